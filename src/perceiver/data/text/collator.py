"""Collators for text batches. Every collator returns the tuple ``(labels, input_ids, pad_mask)``: ``labels`` of
ignored positions are -100, ``pad_mask`` is ``True`` at padding."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from perceiver.data.text.utils import NO_WORD, special_token_ids, vocab_size

IGNORE_INDEX = -100
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
LABEL_KEYS = ("label", "labels", "label_ids")


def torch_seeded_rng() -> np.random.Generator:
    """A numpy generator seeded from torch's RNG: differs between data-loader workers (torch seeds each worker)
    and is reproducible under ``torch.manual_seed`` / ``seed_everything``."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


class Collator:
    """Base class: ``collate(examples)`` maps a list of examples (dicts) to ``(labels, input_ids, pad_mask)``."""

    def collate(self, examples: Sequence[dict[str, Any]]) -> Batch:
        raise NotImplementedError

    def __call__(self, examples: Sequence[dict[str, Any]]) -> Batch:
        return self.collate(examples)


def _pad(sequences: Sequence[Sequence[int]], length: int, value: int, left: bool) -> torch.Tensor:
    out = torch.full((len(sequences), length), value, dtype=torch.long)
    for i, seq in enumerate(sequences):
        seq = torch.as_tensor(seq[:length], dtype=torch.long)
        if left:
            out[i, length - len(seq) :] = seq
        else:
            out[i, : len(seq)] = seq
    return out


class DefaultCollator(Collator):
    """Pads ``input_ids`` (and sequence labels) to the longest example, at most ``max_seq_len``, on the tokenizer's
    ``padding_side``. Labels come from ``label`` (one per example), ``labels`` or ``label_ids`` (one per token)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_seq_len: int | None = None):
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len

    def collate(self, examples: Sequence[dict[str, Any]]) -> Batch:
        lengths = [len(e["input_ids"]) for e in examples]
        length = max(lengths) if self.max_seq_len is None else min(max(lengths), self.max_seq_len)
        needs_padding = any(n < length for n in lengths)
        pad_id = self.tokenizer.pad_token_id
        if needs_padding and pad_id is None:
            raise ValueError(
                f"tokenizer {type(self.tokenizer).__name__} has no pad token, but this batch has sequences of "
                f"different lengths ({min(lengths)}..{max(lengths)}); set tokenizer.pad_token or use equal lengths"
            )
        left = self.tokenizer.padding_side == "left"
        input_ids = _pad([e["input_ids"] for e in examples], length, pad_id or 0, left)
        real = _pad([[1] * n for n in lengths], length, 0, left)
        pad_mask = real == 0
        labels = self._labels(examples, length, left)
        return labels, input_ids, pad_mask

    @staticmethod
    def _labels(examples: Sequence[dict[str, Any]], length: int, left: bool) -> torch.Tensor:
        key = next((k for k in LABEL_KEYS if k in examples[0]), None)
        if key is None:
            raise ValueError(f"examples have none of the label keys {LABEL_KEYS}: {sorted(examples[0])}")
        values = [e[key] for e in examples]
        if isinstance(values[0], int | np.integer) or (torch.is_tensor(values[0]) and values[0].dim() == 0):
            return torch.as_tensor([int(v) for v in values], dtype=torch.long)
        return _pad(values, length, IGNORE_INDEX, left)


class WordMaskingCollator(Collator):
    """Whole-word masking (BERT): each word is selected with probability ``mask_prob``; all tokens of a selected
    word become the mask token (80 %), random tokens (10 %) or stay unchanged (10 %). Labels are the original
    tokens at selected positions and -100 elsewhere. Examples need ``input_ids`` and ``word_ids`` (``-1`` = no
    word: special tokens, whitespace)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, mask_prob: float = 0.15, seed: int | None = None):
        if not 0.0 < mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {mask_prob}")
        if tokenizer.mask_token_id is None:
            raise ValueError(f"tokenizer {type(tokenizer).__name__} has no mask token, needed for masking")
        self.tokenizer = tokenizer
        self.mask_prob = mask_prob
        self.mask_token_id = tokenizer.mask_token_id
        special = set(special_token_ids(tokenizer))
        self.random_ids = np.array([i for i in range(vocab_size(tokenizer)) if i not in special])
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.collator = DefaultCollator(tokenizer)

    def word_ids(self, example: dict[str, Any]) -> np.ndarray:
        return np.asarray(example["word_ids"])

    def mask_words_1(self, example: dict[str, Any], rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Mask one example: returns ``input_ids`` (masked) and ``labels``."""
        rng = rng or self.rng or torch_seeded_rng()
        input_ids = np.array(example["input_ids"])
        word_ids = self.word_ids(example)
        labels = np.full_like(input_ids, IGNORE_INDEX)

        words, inverse = np.unique(word_ids, return_inverse=True)
        selected = rng.random(len(words)) < self.mask_prob
        action = rng.random(len(words))  # < 0.8: mask token, < 0.9: random token, else unchanged
        selected[words == NO_WORD] = False

        token_selected = selected[inverse]
        token_action = action[inverse]
        labels[token_selected] = input_ids[token_selected]
        to_mask = token_selected & (token_action < 0.8)
        to_random = token_selected & (token_action >= 0.8) & (token_action < 0.9)
        input_ids[to_mask] = self.mask_token_id
        input_ids[to_random] = rng.choice(self.random_ids, size=int(to_random.sum()))
        return {"input_ids": input_ids.tolist(), "labels": labels.tolist()}

    def collate(self, examples: Sequence[dict[str, Any]]) -> Batch:
        rng = self.rng or torch_seeded_rng()
        return self.collator([self.mask_words_1(e, rng) for e in examples])


class TokenMaskingCollator(WordMaskingCollator):
    """Token masking: like ``WordMaskingCollator`` with every non-special token its own word."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, mask_prob: float = 0.15, seed: int | None = None):
        super().__init__(tokenizer, mask_prob, seed)
        self.special_ids = np.array(special_token_ids(tokenizer))

    def word_ids(self, example: dict[str, Any]) -> np.ndarray:
        input_ids = np.asarray(example["input_ids"])
        word_ids = np.arange(len(input_ids))
        word_ids[np.isin(input_ids, self.special_ids)] = NO_WORD
        return word_ids


class RandomTruncateCollator(Collator):
    """Truncates every batch of ``collator`` to one random length in ``[min_seq_len, seq_len]`` (the same for all
    examples, so batches of equal-length examples have no padding)."""

    def __init__(
        self, collator: Callable[[Sequence[dict[str, Any]]], Batch], min_seq_len: int, seed: int | None = None
    ):
        if min_seq_len <= 0:
            raise ValueError(f"min_seq_len must be > 0, got {min_seq_len}")
        self.collator = collator
        self.min_seq_len = min_seq_len
        self.rng = None if seed is None else np.random.default_rng(seed)

    def collate(self, examples: Sequence[dict[str, Any]]) -> Batch:
        labels, input_ids, pad_mask = self.collator(examples)
        seq_len = input_ids.shape[1]
        if seq_len <= self.min_seq_len:
            return labels, input_ids, pad_mask
        n = int((self.rng or torch_seeded_rng()).integers(self.min_seq_len, seq_len + 1))
        if labels.dim() == 2:
            labels = labels[:, :n]
        return labels, input_ids[:, :n], pad_mask[:, :n]
