"""Symbolic audio model (Perceiver AR on MIDI). Importing it registers the Hugging Face Auto classes
(``AutoModelForCausalLM``) and the ``symbolic-audio-generation`` pipeline."""

from perceiver.model.audio.symbolic.backend import SymbolicAudioModel, SymbolicAudioModelConfig
from perceiver.model.audio.symbolic.huggingface import (
    PerceiverSymbolicAudioModel,
    PerceiverSymbolicAudioModelConfig,
    ReturnType,
    SymbolicAudioPipeline,
    convert_checkpoint,
)
from perceiver.model.core.utils import lazy_exports

__all__ = [
    "LitSymbolicAudioModel",
    "PerceiverSymbolicAudioModel",
    "PerceiverSymbolicAudioModelConfig",
    "ReturnType",
    "SymbolicAudioModel",
    "SymbolicAudioModelConfig",
    "SymbolicAudioPipeline",
    "convert_checkpoint",
]

# the Lightning module is imported on first access (Lightning takes seconds to import)
__getattr__ = lazy_exports(__name__, {"LitSymbolicAudioModel": "perceiver.model.audio.symbolic.lightning"})
