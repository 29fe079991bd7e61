"""Symbolic audio data whose MIDI files come as a zip archive, downloaded and unpacked into ``dataset_dir`` once."""

from pathlib import Path

from perceiver.data.audio.symbolic import SymbolicAudioDataModule
from perceiver.data.audio.utils import download_file, extract_file


class MidiArchiveDataModule(SymbolicAudioDataModule):
    """Base of the data modules that download the zip archive ``self.dataset_uri`` (set by the subclass); a subclass
    says by :meth:`is_unpacked` whether the archive's files are in ``dataset_dir`` already."""

    dataset_uri: str

    def is_unpacked(self) -> bool:
        raise NotImplementedError

    def download(self) -> None:
        if self.is_unpacked():
            return
        archive = download_file(self.dataset_uri, self.dataset_dir / Path(self.dataset_uri).name)
        extract_file(archive, self.dataset_dir)
        archive.unlink()
