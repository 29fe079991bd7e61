"""Hugging Face wrapper of the symbolic audio model: config, model (``generate``), Auto-class and
``symbolic-audio-generation`` pipeline registration, conversion of Lightning checkpoints."""

from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModelForCausalLM
from transformers.pipelines import PIPELINE_REGISTRY

from perceiver.data.audio import PAD_TOKEN_ID
from perceiver.data.audio.midi_processor import decode_midi, encode_midi  # noqa: F401 (perceiver-io 0.11 names)
from perceiver.model.audio.symbolic.backend import SymbolicAudioModel, SymbolicAudioModelConfig
from perceiver.model.audio.symbolic.pipeline import ReturnType, SymbolicAudioPipeline
from perceiver.model.core.checkpoint import backend_state_dict, read_lightning_checkpoint
from perceiver.model.core.folder import save_model_folder
from perceiver.model.core.huggingface import (  # noqa: F401 (the output class: a perceiver-io 0.11 name)
    PerceiverCausalSequenceModel,
    PerceiverCausalSequenceModelConfig,
    PerceiverCausalSequenceModelOutput,
)
from perceiver.model.core.utils import lazy_exports

__all__ = [
    "PerceiverSymbolicAudioModel",
    "PerceiverSymbolicAudioModelConfig",
    "ReturnType",
    "SymbolicAudioPipeline",
    "convert_checkpoint",
]


class PerceiverSymbolicAudioModelConfig(PerceiverCausalSequenceModelConfig):
    model_type = "perceiver-ar-symbolic-audio-model"
    backend_config_class = SymbolicAudioModelConfig


class PerceiverSymbolicAudioModel(PerceiverCausalSequenceModel):
    config_class = PerceiverSymbolicAudioModelConfig
    backend_model_class = SymbolicAudioModel

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """``PerceiverCausalSequenceModel.generate`` with the MIDI pad id (388) as default ``pad_token_id``."""
        if kwargs.get("pad_token_id") is None and self.generation_config.pad_token_id is None:
            kwargs["pad_token_id"] = PAD_TOKEN_ID
        return super().generate(*args, **kwargs)

    @staticmethod
    def from_checkpoint(ckpt_path: str | Path) -> "PerceiverSymbolicAudioModel":
        """Load a Lightning checkpoint of ``LitSymbolicAudioModel`` (a local file or an http(s) URL)."""
        # hyper-parameters: the config fields; weights under "model." (the layout of all Perceiver AR modules)
        ckpt = read_lightning_checkpoint(ckpt_path)
        config = SymbolicAudioModelConfig.create(**dict(ckpt["hyper_parameters"]))
        model = PerceiverSymbolicAudioModel(PerceiverSymbolicAudioModelConfig(config))
        model.backend_model.load_state_dict(backend_state_dict(ckpt, ckpt_path))
        return model


AutoConfig.register(PerceiverSymbolicAudioModelConfig.model_type, PerceiverSymbolicAudioModelConfig, exist_ok=True)
AutoModelForCausalLM.register(PerceiverSymbolicAudioModelConfig, PerceiverSymbolicAudioModel, exist_ok=True)
PIPELINE_REGISTRY.register_pipeline(
    "symbolic-audio-generation", pipeline_class=SymbolicAudioPipeline, pt_model=AutoModelForCausalLM
)


def convert_checkpoint(save_dir: str | Path, ckpt_url: str | Path, **kwargs: Any) -> PerceiverSymbolicAudioModel:
    """Convert a Lightning checkpoint into a Hugging Face folder ``save_dir`` (the MIDI tokenizer needs no files).

    :param kwargs: passed to ``save_pretrained`` (e.g. ``push_to_hub=True``).
    """
    model = PerceiverSymbolicAudioModel.from_checkpoint(ckpt_url)
    model.generation_config.pad_token_id = PAD_TOKEN_ID
    save_model_folder(save_dir, model, **kwargs)
    return model


# perceiver-io 0.11 made its Lightning module importable from here (imported on access: Lightning is slow to import)
__getattr__ = lazy_exports(__name__, {"LitSymbolicAudioModel": "perceiver.model.audio.symbolic.lightning"})
