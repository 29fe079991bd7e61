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
from perceiver.model.audio.symbolic.lightning import LitSymbolicAudioModel

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
