"""Symbolic audio model (Perceiver AR on MIDI). Importing it registers the Hugging Face Auto classes
(``AutoModelForCausalLM``) and the ``symbolic-audio-generation`` pipeline."""

from perceiver.model.audio.symbolic.backend import SymbolicAudioModel, SymbolicAudioModelConfig
from perceiver.model.core.utils import lazy_exports, transformers_available

if transformers_available():
    import perceiver.model.audio.symbolic.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

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

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "LitSymbolicAudioModel": "perceiver.model.audio.symbolic.lightning",
        "PerceiverSymbolicAudioModel": "perceiver.model.audio.symbolic.huggingface",
        "PerceiverSymbolicAudioModelConfig": "perceiver.model.audio.symbolic.huggingface",
        "ReturnType": "perceiver.model.audio.symbolic.huggingface",
        "SymbolicAudioPipeline": "perceiver.model.audio.symbolic.huggingface",
        "convert_checkpoint": "perceiver.model.audio.symbolic.huggingface",
    },
)
