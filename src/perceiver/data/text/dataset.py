"""Map-style dataset wrappers over preprocessed chunks of token ids."""

from typing import Any

import torch
from torch.utils.data import Dataset

SEQUENCE_KEYS = ("input_ids", "word_ids", "labels")


class RandomShiftDataset(Dataset):
    """Example ``i`` is chunk ``i`` from a random offset followed by the head of chunk ``i + 1`` (same length),
    so a model sees ever new sequence boundaries. Needs consecutive chunks of one concatenated token stream; has
    ``len(dataset) - 1`` examples."""

    def __init__(self, dataset: Any):
        if len(dataset) < 2:
            raise ValueError(f"random shift needs at least 2 chunks, got {len(dataset)}")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset) - 1

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range [0..{len(self)})")
        current, following = self.dataset[index], self.dataset[index + 1]
        length = len(current["input_ids"])
        shift = int(torch.randint(0, length, ()).item())
        return {
            key: list(current[key][shift:]) + list(following[key][:shift]) for key in SEQUENCE_KEYS if key in current
        }


class CLMDataset(Dataset):
    """Turns chunks of ``max_seq_len + 1`` tokens into ``input_ids`` (all but the last) and ``label_ids`` (all but
    the first): next-token targets."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        chunk = self.dataset[index]["input_ids"]
        return {"input_ids": list(chunk[:-1]), "label_ids": list(chunk[1:])}
