"""Base classes of the Hugging Face wrappers: configs that nest a backend dataclass config, and a model base with a
crash-safe ``save_pretrained``.

A wrapper config stores its backend config as the plain dict ``model_config`` (``config.json`` keeps the layout of
perceiver-io 0.11, so its saved models load); ``backend_config`` rebuilds the dataclasses.
"""

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import torch.nn as nn
from transformers import PretrainedConfig, PreTrainedModel

from perceiver.model.core.checkpoint import check_pretrained_folder
from perceiver.model.core.hf_registry import register_hf_wrapper


class PerceiverBackendConfig(PretrainedConfig):
    """Base of the wrapper configs. Subclasses set ``model_type`` and implement ``default_backend_config`` and
    ``backend_config_from_dict``."""

    def __init__(self, backend_config: Any = None, **kwargs: Any):
        model_config = kwargs.pop("model_config", None)
        if backend_config is not None:
            model_config = dataclasses.asdict(backend_config)
        elif model_config is None:
            model_config = dataclasses.asdict(self.default_backend_config())
        self.model_config = model_config
        super().__init__(**kwargs)

    def __init_subclass__(cls, **kwargs: Any):
        has_init = "__init__" in cls.__dict__
        super().__init_subclass__(**kwargs)
        if not has_init and "__init__" in cls.__dict__:
            # transformers 5 gives config subclasses without an __init__ a generated keyword-only one; drop it so
            # that they keep the inherited constructor (``Config(backend_config)``).
            del cls.__init__

    @classmethod
    def default_backend_config(cls) -> Any:
        raise NotImplementedError

    @classmethod
    def backend_config_from_dict(cls, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    @property
    def backend_config(self) -> Any:
        return self.backend_config_from_dict(self.model_config)


# Files of a save_pretrained folder that hold weights (single or sharded): replaced as a whole by a new save.
WEIGHT_FILE_PREFIXES = ("model.safetensors", "model-0", "pytorch_model")


class PerceiverPreTrainedModel(PreTrainedModel):
    """Base of the wrapper models: the backend is ``self.backend_model`` (a ``backend_model_class`` built from
    ``config.backend_config``, or a given one) and initialises its own weights. Subclasses that set
    ``backend_model_class`` are registered as its wrapper (:func:`~perceiver.model.core.hf_registry.to_hf_model`)."""

    base_model_prefix = "backend_model"
    backend_model_class: type[nn.Module]

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "backend_model_class" in cls.__dict__:
            register_hf_wrapper(cls.backend_model_class, cls)

    def __init__(self, config: PerceiverBackendConfig, backend_model: nn.Module | None = None):
        super().__init__(config)
        if backend_model is None and hasattr(self, "backend_model_class"):
            backend_model = self.backend_model_class(config.backend_config)
        if backend_model is not None:  # else a subclass's own __init__ builds it
            self.backend_model = backend_model
            self.post_init()

    @classmethod
    def from_backend(cls, backend_model: nn.Module) -> "PerceiverPreTrainedModel":
        """A wrapper of ``backend_model`` (shared, not copied), its config made from ``backend_model.config``."""
        return cls(cls.config_class(backend_model.config), backend_model=backend_model)

    def _init_weights(self, module: Any) -> None:
        # The backend initialises itself (init_scale); loading fills in saved weights.
        pass

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
        """``transformers``' ``save_pretrained``, crash-safe: the files are written to a temporary folder next to
        ``save_directory``, flushed to disk and then moved in one by one with ``os.replace``, so a process killed while
        saving never leaves a truncated weights file (stale weight files of an earlier save are removed)."""
        if kwargs.get("push_to_hub") or os.path.isfile(save_directory):
            return super().save_pretrained(save_directory, *args, **kwargs)
        target = Path(save_directory)
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
            result = super().save_pretrained(tmp, *args, **kwargs)
            written = sorted(Path(tmp).iterdir())
            for file in written:
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
            for file in written:
                os.replace(file, target / file.name)
        names = {file.name for file in written}
        for stale in target.iterdir():
            if stale.name not in names and stale.name.startswith(WEIGHT_FILE_PREFIXES) and stale.is_file():
                stale.unlink()
        return result

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any):
        # A truncated weights file in a local folder fails here, with its name, not deep inside safetensors.
        if pretrained_model_name_or_path is not None and os.path.isdir(str(pretrained_model_name_or_path)):
            check_pretrained_folder(pretrained_model_name_or_path)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
