"""Crash-safe checkpoint files: atomic writes and loads that name the file when it is truncated or corrupt.

A checkpoint is first written to a temporary file in the same folder, flushed to disk (``fsync``) and then renamed
over the target with ``os.replace``, which is atomic on POSIX and Windows: a process killed at any moment leaves
either the previous complete file or the new complete file, never a partial one.
"""

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file next to it, which then replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file readable by its owner only; give it the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a temporary file behind.
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not possible on every platform (Windows), where it is skipped.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)``, atomically."""
    atomic_write(path, lambda f: torch.save(obj, f))


class CorruptCheckpointError(ValueError):
    """A checkpoint file exists but cannot be read (truncated, corrupt or not a checkpoint)."""


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = "cpu", weights_only: bool | None = False) -> Any:
    """``torch.load`` of a local checkpoint, raising ``FileNotFoundError`` or ``CorruptCheckpointError`` (a
    ``ValueError``) naming the file instead of PyTorch's unpickling and zip errors. ``weights_only=None`` is
    PyTorch's default."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        # Checkpoints hold pickled configs and Lightning metadata (weights_only=False): load only trusted files.
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, IndexError, KeyError) as e:
        raise CorruptCheckpointError(
            f"cannot read checkpoint {path} ({path.stat().st_size} bytes): it is truncated, corrupt or not a "
            f"PyTorch checkpoint ({type(e).__name__}: {e}). Use another checkpoint, e.g. an earlier one or last.ckpt"
        ) from e


def check_safetensors_file(path: str | os.PathLike) -> None:
    """Raise ``CorruptCheckpointError`` naming ``path`` if it is not a complete safetensors file (header readable and
    every tensor's data inside the file)."""
    import json
    import struct

    path = Path(path)
    size = path.stat().st_size
    problem = None
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            problem = "shorter than the 8-byte header length"
        else:
            (header_len,) = struct.unpack("<Q", head)
            if 8 + header_len > size:
                problem = f"header of {header_len} bytes does not fit"
            else:
                try:
                    header = json.loads(f.read(header_len))
                except (ValueError, UnicodeDecodeError) as e:
                    problem = f"unreadable header ({e})"
                else:
                    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
                    expected = 8 + header_len + max(ends, default=0)
                    if expected > size:
                        problem = f"tensor data ends at byte {expected}"
    if problem is not None:
        raise CorruptCheckpointError(
            f"cannot read weights file {path} ({size} bytes): it is truncated or corrupt ({problem}). "
            "Save or download the model again"
        )


def check_pretrained_folder(path: str | os.PathLike) -> None:
    """Check every ``*.safetensors`` file of a local ``save_pretrained`` folder (no-op for hub ids)."""
    path = Path(path)
    if path.is_dir():
        for file in sorted(path.glob("*.safetensors")):
            check_safetensors_file(file)


# ---------------------------------------------------------------------------------------------------------------------
# Lightning checkpoints of the task modules, read without Lightning
# ---------------------------------------------------------------------------------------------------------------------

STATE_DICT_PREFIX = "model."


def read_lightning_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The contents of a Lightning checkpoint (a local file or an http(s) URL): at least ``state_dict`` and
    ``hyper_parameters`` (the module's constructor arguments)."""
    from collections.abc import Mapping

    name = str(path)
    # Lightning checkpoints pickle their hyper-parameters, hence weights_only=False: load trusted files only.
    if name.startswith(("http://", "https://")):
        ckpt = torch.hub.load_state_dict_from_url(name, map_location="cpu", weights_only=False)
    else:
        ckpt = load_checkpoint_file(name, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ValueError(f"{name} is not a Lightning checkpoint (needs 'state_dict' and 'hyper_parameters')")
    return dict(ckpt)


def backend_state_dict(ckpt: dict[str, Any], path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The backend weights of a task module's checkpoint (its ``model.`` entries, without the prefix)."""
    state_dict = {
        k[len(STATE_DICT_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(STATE_DICT_PREFIX)
    }
    if not state_dict:
        raise ValueError(f"{path}: no weights with prefix {STATE_DICT_PREFIX!r} in the checkpoint's state_dict")
    return state_dict


def _as_dict(value: Any, name: str) -> dict[str, Any]:
    import dataclasses
    from collections.abc import Mapping

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "as_dict"):  # jsonargparse Namespace
        return value.as_dict()
    raise ValueError(f"checkpoint hyper_parameters[{name!r}] must be a config or a dict, got {type(value).__name__}")


def perceiver_io_checkpoint_config(
    ckpt: dict[str, Any], path: str | os.PathLike, encoder_cls: type, decoder_cls: type
) -> Any:
    """The backend config (a ``PerceiverIOConfig``) of a checkpoint of a Perceiver IO task module."""
    import dataclasses

    from perceiver.model.core.config import PerceiverIOConfig
    from perceiver.model.core.config_dict import perceiver_io_config_from_dict

    hparams = ckpt["hyper_parameters"]
    missing = [k for k in ("encoder", "decoder", "num_latents", "num_latent_channels") if k not in hparams]
    if missing:
        raise ValueError(f"{path}: hyper_parameters lack {missing}; not a Perceiver IO model checkpoint")
    data = {f.name: hparams[f.name] for f in dataclasses.fields(PerceiverIOConfig) if f.name in hparams}
    data["encoder"] = _as_dict(hparams["encoder"], "encoder")
    data["decoder"] = _as_dict(hparams["decoder"], "decoder")
    return perceiver_io_config_from_dict(data, encoder_cls, decoder_cls)


# Weight files of a ``save_pretrained`` folder, in the order they are looked for.
PRETRAINED_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
HF_BACKEND_PREFIX = "backend_model."


def read_pretrained_backend_state_dict(name_or_path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The backend weights of a Hugging Face model folder saved by a perceiver wrapper (``save_pretrained``, also
    of perceiver-io 0.11), without the wrapper's ``backend_model.`` prefix: a local folder or a hub id (downloaded
    with ``huggingface_hub``). Reads the files directly, so it needs neither the wrapper classes nor
    ``transformers``."""
    import json

    folder = Path(name_or_path)
    if not folder.is_dir():
        if folder.exists() or str(name_or_path).count("/") > 1:
            raise FileNotFoundError(f"{name_or_path} is neither a model folder nor a hub id (namespace/name)")
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(str(name_or_path), allow_patterns=["*.json", "*.safetensors", "*.bin"]))
    files = [name for name in PRETRAINED_WEIGHTS if (folder / name).is_file()]
    if not files:
        raise FileNotFoundError(f"{folder} holds no model weights (looked for {', '.join(PRETRAINED_WEIGHTS)})")
    weights = folder / files[0]
    if weights.name.endswith(".index.json"):
        shards = sorted(set(json.loads(weights.read_text())["weight_map"].values()))
        state_dict = {k: v for shard in shards for k, v in _read_weights(folder / shard).items()}
    else:
        state_dict = _read_weights(weights)
    return {k.removeprefix(HF_BACKEND_PREFIX): v for k, v in state_dict.items()}


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        check_safetensors_file(path)
        return load_file(path)
    return load_checkpoint_file(path, weights_only=True)


def datamodule_hparams(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The data module's hyper-parameters saved in a checkpoint (empty if it was trained without one)."""
    hparams = ckpt.get("datamodule_hyper_parameters")
    return _as_dict(hparams, "datamodule") if hparams is not None else {}


__all__ = [
    "CorruptCheckpointError",
    "STATE_DICT_PREFIX",
    "backend_state_dict",
    "datamodule_hparams",
    "perceiver_io_checkpoint_config",
    "read_lightning_checkpoint",
    "read_pretrained_backend_state_dict",
    "atomic_torch_save",
    "atomic_write",
    "check_pretrained_folder",
    "check_safetensors_file",
    "load_checkpoint_file",
]
