"""A Lightning ``CheckpointIO`` that writes every checkpoint atomically (temporary file, fsync, ``os.replace``).

Lightning's default writes the checkpoint in place, so a process killed while writing leaves a truncated
``.ckpt``. With ``AtomicCheckpointIO`` (the CLI's default) a kill leaves the previous complete file. Use it in a
``Trainer`` of your own with ``Trainer(plugins=[AtomicCheckpointIO()])``.
"""

import os
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem

from perceiver.model.core.checkpoint import atomic_torch_save, load_checkpoint_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic local writes and loads that name a truncated or corrupt file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"AtomicCheckpointIO does not support storage_options, got {storage_options!r}")
        if "://" in str(path):  # remote file systems: Lightning's own transaction-based write
            return super().save_checkpoint(checkpoint, path)
        atomic_torch_save(checkpoint, os.fspath(path))

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if "://" in str(path) or not get_filesystem(path).exists(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        location = map_location if map_location is not None else (lambda storage, loc: storage)
        return load_checkpoint_file(path, map_location=location, weights_only=weights_only)


__all__ = ["AtomicCheckpointIO"]
