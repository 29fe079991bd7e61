"""GiantMIDI-Piano as packed for the reference training runs: the archive holds ``train/`` and ``valid/``."""

from typing import Any

from perceiver.data.audio.archive import MidiArchiveDataModule

GIANT_MIDI_PIANO_URI = "https://martin-krasser.com/perceiver/data/midi/giantmidi-piano.zip"


class GiantMidiPianoDataModule(MidiArchiveDataModule):
    """GiantMIDI-Piano MIDI files from the archive ``dataset_uri``; the other arguments (``max_seq_len``, ...) are
    those of :class:`~perceiver.data.audio.symbolic.SymbolicAudioDataModule`."""

    def __init__(
        self,
        *args: Any,
        dataset_uri: str = GIANT_MIDI_PIANO_URI,
        dataset_dir: str = ".cache/giantmidi-piano",
        **kwargs: Any,
    ):
        super().__init__(dataset_dir, *args, **kwargs)
        self.dataset_uri = dataset_uri

    def is_unpacked(self) -> bool:
        return (self.dataset_dir / "train").is_dir()

    def download(self) -> None:
        super().download()
        # Some archives wrap the split folders in one top-level folder.
        if not self.is_unpacked():
            nested = [p for p in self.dataset_dir.iterdir() if (p / "train").is_dir()]
            if len(nested) == 1:
                for child in nested[0].iterdir():
                    child.rename(self.dataset_dir / child.name)
