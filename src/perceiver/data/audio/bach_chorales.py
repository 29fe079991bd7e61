"""Bach's four-part chorales as MIDI, converted from the corpus that ships with music21 (offline training data)."""

import warnings
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from perceiver.data.audio.symbolic import SymbolicAudioDataModule, find_midi_files

CONVERTED_MARKER = ".converted"
SCORE_SUFFIXES = (".mxl", ".xml", ".krn")
VALID_EVERY = 10  # every 10th chorale (by corpus name) is held out for validation


def chorale_names() -> list[str]:
    """music21 corpus names of the Bach chorales (``bach/bwv1.6``, ``bach/bwv66.6`` ...), sorted.

    The corpus folder also holds Roman-numeral analyses (``.rntxt``); only scores count.
    """
    from music21 import corpus

    names = {f"bach/{_stem(Path(p))}" for p in corpus.getComposer("bach") if Path(p).suffix in SCORE_SUFFIXES}
    return sorted(names)


def _stem(path: Path) -> str:
    # Path.stem would cut "bwv1.6.mxl" to "bwv1.6" but "bach/bwv1.6" to "bwv1": strip the known suffix only.
    return path.name[: -len(path.suffix)] if path.suffix in SCORE_SUFFIXES else path.name


def chorale_to_midi(name: str) -> bytes:
    """The MIDI bytes of chorale ``name`` (one track per voice, piano sound)."""
    from music21 import corpus, midi

    return midi.translate.streamToMidiFile(corpus.parse(name)).writestr()


def _convert(args: tuple[str, str]) -> str | None:
    name, path = args
    try:
        Path(path).write_bytes(chorale_to_midi(name))
        return None
    except Exception as e:  # a few chorales have malformed repeats that music21 cannot expand
        return f"skipping chorale {name}: {type(e).__name__}: {e}"


def write_bach_chorales(
    target_dir: str | Path, num_workers: int = 1, max_chorales: int | None = None
) -> tuple[list[Path], list[Path]]:
    """Convert the chorales into ``target_dir/train/*.mid`` and ``target_dir/valid/*.mid``.

    :param max_chorales: convert only the first ``max_chorales`` (by name); ``None`` = all.
    :return: ``(train_files, valid_files)`` that were written.
    """
    if max_chorales is not None and max_chorales < 2:
        raise ValueError(f"max_chorales must be at least 2 (one train and one valid chorale), got {max_chorales}")
    target_dir = Path(target_dir)
    names = chorale_names()[:max_chorales]
    jobs = []
    for i, name in enumerate(names):
        split = "valid" if i % VALID_EVERY == VALID_EVERY - 1 or (len(names) < VALID_EVERY and i == 0) else "train"
        (target_dir / split).mkdir(parents=True, exist_ok=True)
        jobs.append((name, str(target_dir / split / f"{name.split('/')[-1]}.mid")))
    if num_workers > 1:
        with Pool(num_workers) as pool:
            errors = pool.map(_convert, jobs, chunksize=8)
    else:
        errors = [_convert(job) for job in jobs]
    for error in errors:
        if error is not None:
            warnings.warn(error, stacklevel=2)
    return find_midi_files(target_dir / "train"), find_midi_files(target_dir / "valid")


class BachChoralesDataModule(SymbolicAudioDataModule):
    """Symbolic audio data from music21's Bach chorales (converted to MIDI once, into ``dataset_dir``)."""

    def __init__(
        self, *args: Any, dataset_dir: str = ".cache/bach-chorales", max_chorales: int | None = None, **kwargs: Any
    ):
        """``max_chorales``: convert only the first ``max_chorales`` (by name); the other arguments (``max_seq_len``,
        ...) are those of :class:`~perceiver.data.audio.symbolic.SymbolicAudioDataModule`."""
        super().__init__(dataset_dir, *args, **kwargs)
        self.max_chorales = max_chorales

    def download(self) -> None:
        marker = self.dataset_dir / CONVERTED_MARKER
        if marker.exists():
            return
        write_bach_chorales(self.dataset_dir, num_workers=self.preproc_workers, max_chorales=self.max_chorales)
        marker.touch()  # an interrupted conversion is redone
