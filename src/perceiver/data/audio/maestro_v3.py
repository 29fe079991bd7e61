"""The MAESTRO v3 piano performances (MIDI only), split by the dataset's own metadata (test pieces dropped)."""

import json
from pathlib import Path
from typing import Any

from perceiver.data.audio.archive import MidiArchiveDataModule
from perceiver.data.audio.symbolic import find_midi_files

MAESTRO_V3_URI = "https://martin-krasser.com/perceiver/data/midi/maestro-v3.0.0-midi.zip"
METADATA_FILE = "maestro-v3.0.0.json"


def read_maestro_split(metadata_path: str | Path) -> dict[str, str]:
    """``{midi_filename: split}`` from the MAESTRO metadata JSON (column layout or a list of records)."""
    with open(metadata_path) as f:
        meta = json.load(f)
    if isinstance(meta, dict):
        names, splits = meta["midi_filename"], meta["split"]
        return {names[k]: splits[k] for k in names}
    return {record["midi_filename"]: record["split"] for record in meta}


class MaestroV3DataModule(MidiArchiveDataModule):
    """MAESTRO v3 MIDI files from the archive ``dataset_uri``; the other arguments (``max_seq_len``, ...) are those of
    :class:`~perceiver.data.audio.symbolic.SymbolicAudioDataModule`."""

    def __init__(
        self,
        *args: Any,
        dataset_uri: str = MAESTRO_V3_URI,
        dataset_dir: str = ".cache/maestro-v3-midi",
        **kwargs: Any,
    ):
        super().__init__(dataset_dir, *args, **kwargs)
        self.dataset_uri = dataset_uri

    def _metadata_path(self) -> Path | None:
        found = sorted(self.dataset_dir.rglob(METADATA_FILE))
        return found[0] if found else None

    def is_unpacked(self) -> bool:
        return self._metadata_path() is not None

    def source_files(self) -> tuple[list[Path], list[Path]]:
        metadata = self._metadata_path()
        if metadata is None:
            raise ValueError(f"{METADATA_FILE} not found in dataset_dir {str(self.dataset_dir)!r}")
        split = read_maestro_split(metadata)
        root = metadata.parent
        train, valid = [], []
        for path in find_midi_files(root):
            s = split.get(path.relative_to(root).as_posix())
            if s == "train":
                train.append(path)
            elif s == "validation":
                valid.append(path)
        if not train or not valid:
            raise ValueError(f"no MIDI files for the train and validation splits of {str(metadata)!r} found")
        return train, valid
