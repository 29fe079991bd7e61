"""Training data for symbolic audio models: a folder of MIDI files, tokenized once into memory-mapped token files,
served as random windows of ``max_seq_len + 1`` tokens (input and one-step-shifted labels)."""

import os
import random
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from perceiver.data.audio.midi_processor import PAD_TOKEN_ID, VOCAB_SIZE, encode_midi_files
from perceiver.validation import check_loader_args

SEPARATOR = -1  # between pieces in the token files
MIDI_SUFFIXES = (".mid", ".midi")
IGNORE_INDEX = -100


def find_midi_files(directory: str | os.PathLike) -> list[Path]:
    """``*.mid``/``*.midi`` files below ``directory`` (recursive, sorted)."""
    return sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def _longest_piece(window: np.ndarray) -> np.ndarray:
    """The longest run of ``window`` without separators (a window must not mix two pieces)."""
    cuts = np.flatnonzero(window == SEPARATOR)
    if len(cuts) == 0:
        return window
    bounds = np.concatenate([[-1], cuts, [len(window)]])
    lengths = np.diff(bounds) - 1
    k = int(np.argmax(lengths))
    return window[bounds[k] + 1 : bounds[k + 1]]


class SymbolicAudioDataset(Dataset):
    """Windows of ``max_seq_len + 1`` tokens from a token array of pieces joined by ``SEPARATOR``.

    With ``random_windows`` every item is a window at a random offset (the index only counts items, as in the
    reference); otherwise item ``i`` is the ``i``-th consecutive window (deterministic, for validation). With
    ``min_seq_len`` a random-window item keeps a random length in ``[min_seq_len, max_seq_len]`` (+1 label).
    """

    def __init__(
        self, tokens: np.ndarray, max_seq_len: int, min_seq_len: int | None = None, random_windows: bool = True
    ):
        if len(tokens) < 2:
            raise ValueError(f"tokens must hold at least 2 tokens, got {len(tokens)}")
        self.tokens = tokens
        self.max_seq_len = max_seq_len
        self.min_seq_len = min_seq_len
        self.random_windows = random_windows

    @property
    def window_len(self) -> int:
        return self.max_seq_len + 1

    def __len__(self) -> int:
        return max(1, len(self.tokens) // self.window_len)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.random_windows:
            # torch's RNG is seeded per data-loader worker, numpy's would repeat across workers.
            start = int(torch.randint(0, max(1, len(self.tokens) - self.window_len + 1), ()).item())
        else:
            start = index * self.window_len
        window = _longest_piece(np.asarray(self.tokens[start : start + self.window_len]))
        if self.random_windows and self.min_seq_len is not None:
            length = int(torch.randint(self.min_seq_len, self.max_seq_len + 1, ()).item()) + 1
            window = window[:length]
        return torch.from_numpy(window.astype(np.int64))


class SymbolicAudioCollator:
    """Pads token windows to ``max_seq_len + 1`` with the pad id and returns ``(labels, input_ids, pad_mask)``:
    labels are the inputs shifted by one, ``-100`` where the label is padding; ``pad_mask`` is ``True`` at
    padded inputs."""

    def __init__(self, max_seq_len: int, padding_side: str = "left", pad_token_id: int = PAD_TOKEN_ID):
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        self.max_seq_len = max_seq_len
        self.padding_side = padding_side
        self.pad_token_id = pad_token_id

    def __call__(self, windows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = torch.full((len(windows), self.max_seq_len + 1), self.pad_token_id, dtype=torch.long)
        for i, w in enumerate(windows):
            w = w[: self.max_seq_len + 1]
            if self.padding_side == "left":
                batch[i, batch.shape[1] - len(w) :] = w
            else:
                batch[i, : len(w)] = w
        input_ids, labels = batch[:, :-1], batch[:, 1:].clone()
        labels[labels == self.pad_token_id] = IGNORE_INDEX
        return labels, input_ids, input_ids == self.pad_token_id


class SymbolicAudioDataModule(pl.LightningDataModule):
    """MIDI files below ``dataset_dir``, tokenized into ``dataset_dir/preproc/{train,valid}.bin`` (``int16``).

    If ``dataset_dir`` has ``train/`` and ``valid/`` sub-folders they are the split; otherwise a seeded random
    ``valid_fraction`` of the files is held out. Files that cannot be read or hold no notes are skipped with a
    warning. Batches are ``(labels, input_ids, pad_mask)`` of length ``max_seq_len``.
    """

    def __init__(
        self,
        dataset_dir: str,
        max_seq_len: int,
        min_seq_len: int | None = None,
        padding_side: str = "left",
        batch_size: int = 16,
        num_workers: int = 1,
        preproc_workers: int | None = None,
        pin_memory: bool = True,
        valid_fraction: float = 0.1,
        seed: int = 0,
    ):
        super().__init__()
        if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
            raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
        if min_seq_len is not None and not 0 < min_seq_len < max_seq_len:
            raise ValueError(f"min_seq_len must be in (0..max_seq_len={max_seq_len}), got {min_seq_len!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size!r}")
        check_loader_args(batch_size, num_workers)
        if not 0.0 < valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction!r}")
        self.save_hyperparameters()
        self.dataset_dir = Path(dataset_dir)
        self.max_seq_len = max_seq_len
        self.min_seq_len = min_seq_len
        self.padding_side = padding_side
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.preproc_workers = preproc_workers or os.cpu_count() or 1
        self.pin_memory = pin_memory
        self.valid_fraction = valid_fraction
        self.seed = seed
        self.collator = SymbolicAudioCollator(max_seq_len, padding_side)
        self.ds_train: SymbolicAudioDataset | None = None
        self.ds_valid: SymbolicAudioDataset | None = None

    @property
    def vocab_size(self) -> int:
        return VOCAB_SIZE

    @property
    def pad_token_id(self) -> int:
        return PAD_TOKEN_ID

    def generation_token_ids(self) -> dict[str, int | None]:
        """The pad and end-of-generation ids of ``generate`` for a model trained on this data (no end token)."""
        return {"pad_token_id": PAD_TOKEN_ID, "eos_token_id": None}

    @property
    def preproc_dir(self) -> Path:
        return self.dataset_dir / "preproc"

    def download(self) -> None:
        """Fetch the source files into ``dataset_dir`` (subclasses; the base class reads what is there).
        ``prepare_data`` calls it unless the training token file is written already."""

    def source_files(self) -> tuple[list[Path], list[Path]]:
        """``(train_files, valid_files)``."""
        if not self.dataset_dir.is_dir():
            raise ValueError(f"dataset_dir {str(self.dataset_dir)!r} is not a directory")
        train_dir, valid_dir = self.dataset_dir / "train", self.dataset_dir / "valid"
        if train_dir.is_dir() and valid_dir.is_dir():
            train, valid = find_midi_files(train_dir), find_midi_files(valid_dir)
        else:
            files = find_midi_files(self.dataset_dir)
            if len(files) == 1:
                raise ValueError(
                    f"dataset_dir {str(self.dataset_dir)!r} holds only 1 MIDI file, at least 2 are needed for a "
                    f"train/valid split"
                )
            random.Random(self.seed).shuffle(files)
            num_valid = max(1, round(len(files) * self.valid_fraction)) if files else 0
            train, valid = sorted(files[num_valid:]), sorted(files[:num_valid])
        if not train or not valid:
            raise ValueError(
                f"no MIDI files (*.mid, *.midi) found for the {'train' if not train else 'valid'} split in "
                f"dataset_dir {str(self.dataset_dir)!r}"
            )
        return train, valid

    def prepare_data(self) -> None:
        if not (self.preproc_dir / "train.bin").exists():
            self.download()
        if all((self.preproc_dir / f"{split}.bin").exists() for split in ("train", "valid")):
            return
        train_files, valid_files = self.source_files()
        random.Random(self.seed).shuffle(train_files)  # pieces of similar names are often similar
        self.preproc_dir.mkdir(parents=True, exist_ok=True)
        for split, files in (("train", train_files), ("valid", valid_files)):
            encoded = encode_midi_files(files, num_workers=self.preproc_workers)
            if not encoded:
                raise ValueError(
                    f"none of the {len(files)} {split} MIDI files in dataset_dir {str(self.dataset_dir)!r} "
                    f"could be encoded"
                )
            write_token_file(self.preproc_dir / f"{split}.bin", encoded)

    def setup(self, stage: str | None = None) -> None:
        self.ds_train = SymbolicAudioDataset(
            load_token_file(self.preproc_dir / "train.bin"), self.max_seq_len, self.min_seq_len, random_windows=True
        )
        self.ds_valid = SymbolicAudioDataset(
            load_token_file(self.preproc_dir / "valid.bin"), self.max_seq_len, None, random_windows=False
        )

    def _loader(self, dataset: Dataset) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=False,  # items are random windows already
            collate_fn=self.collator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.ds_train)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.ds_valid)


def write_token_file(path: Path, pieces: list[np.ndarray]) -> None:
    """Join ``pieces`` with ``SEPARATOR`` into an ``int16`` file (written to a temporary name, then renamed)."""
    total = sum(len(p) for p in pieces) + len(pieces) - 1
    tmp = path.with_suffix(".tmp")
    data = np.memmap(tmp, dtype=np.int16, mode="w+", shape=(total,))
    pos = 0
    for i, piece in enumerate(pieces):
        if i > 0:
            data[pos] = SEPARATOR
            pos += 1
        data[pos : pos + len(piece)] = piece
        pos += len(piece)
    data.flush()
    del data
    os.replace(tmp, path)


def load_token_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise ValueError(f"token file {str(path)!r} does not exist, run prepare_data() first")
    return np.memmap(path, dtype=np.int16, mode="r")
