"""GiantMIDI-Piano as packed for the reference training runs: the archive holds ``train/`` and ``valid/``."""

from pathlib import Path

from perceiver.data.audio.symbolic import SymbolicAudioDataModule
from perceiver.data.audio.utils import download_file, extract_file

GIANT_MIDI_PIANO_URI = "https://martin-krasser.com/perceiver/data/midi/giantmidi-piano.zip"


class GiantMidiPianoDataModule(SymbolicAudioDataModule):
    def __init__(
        self,
        max_seq_len: int,
        min_seq_len: int | None = None,
        padding_side: str = "left",
        batch_size: int = 16,
        num_workers: int = 1,
        preproc_workers: int | None = None,
        pin_memory: bool = True,
        dataset_uri: str = GIANT_MIDI_PIANO_URI,
        dataset_dir: str = ".cache/giantmidi-piano",
    ):
        super().__init__(
            dataset_dir=dataset_dir,
            max_seq_len=max_seq_len,
            min_seq_len=min_seq_len,
            padding_side=padding_side,
            batch_size=batch_size,
            num_workers=num_workers,
            preproc_workers=preproc_workers,
            pin_memory=pin_memory,
        )
        self.dataset_uri = dataset_uri

    def download(self) -> None:
        if (self.dataset_dir / "train").is_dir() or (self.preproc_dir / "train.bin").exists():
            return
        archive = download_file(self.dataset_uri, self.dataset_dir / Path(self.dataset_uri).name)
        extract_file(archive, self.dataset_dir)
        archive.unlink()
        # Some archives wrap the split folders in one top-level folder.
        if not (self.dataset_dir / "train").is_dir():
            nested = [p for p in self.dataset_dir.iterdir() if (p / "train").is_dir()]
            if len(nested) == 1:
                for child in nested[0].iterdir():
                    child.rename(self.dataset_dir / child.name)
