"""Turns raw text into the ``(input_ids, pad_mask)`` tensors that the text models take."""

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase


class TextPreprocessor:
    def __init__(
        self,
        tokenizer: str | PreTrainedTokenizerBase,
        max_seq_len: int,
        add_special_tokens: bool,
        padding_side: str | None = None,
    ):
        """
        :param tokenizer: a tokenizer, or the name or folder that ``AutoTokenizer`` loads one from.
        :param max_seq_len: longer texts are truncated to this many tokens (special tokens included).
        :param add_special_tokens: add the tokenizer's special tokens (``[CLS] ... [SEP]`` for the bytes tokenizer).
        :param padding_side: ``"left"`` or ``"right"``; ``None`` keeps the tokenizer's.
        """
        if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len <= 0:
            raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
        if padding_side not in (None, "left", "right"):
            raise ValueError(f"padding_side must be None, 'left' or 'right', got {padding_side!r}")
        if isinstance(tokenizer, str):
            tokenizer = AutoTokenizer.from_pretrained(tokenizer, verbose=False)
        elif not isinstance(tokenizer, PreTrainedTokenizerBase):
            raise TypeError(f"tokenizer must be a name, a folder or a tokenizer, got {type(tokenizer).__name__}")
        num_special = tokenizer.num_special_tokens_to_add() if add_special_tokens else 0
        if max_seq_len <= num_special:
            # truncation cannot cut the special tokens: sequences would be longer than max_seq_len
            raise ValueError(
                f"max_seq_len must be > {num_special} (the special tokens added to every text), got {max_seq_len}"
            )
        if padding_side is not None:
            tokenizer.padding_side = padding_side
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.add_special_tokens = add_special_tokens

    def preprocess(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """One text -> ``input_ids (n,)`` and ``pad_mask (n,)`` (bool, ``True`` = padding)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        input_ids, pad_mask = self.preprocess_batch([text])
        return input_ids[0], pad_mask[0]

    def preprocess_batch(self, text_batch: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> ``input_ids (b, n)`` and ``pad_mask (b, n)``, padded to the longest text."""
        if isinstance(text_batch, str) or not all(isinstance(t, str) for t in text_batch):
            raise TypeError("text_batch must be a list of str")
        if len(text_batch) == 0:
            raise ValueError("text_batch is empty: give at least one text")
        # Without a pad token (e.g. GPT-2's tokenizer) texts can only be batched when they have equal length.
        padding = self.tokenizer.pad_token is not None
        if not padding and len(text_batch) > 1:
            lengths = {len(self._encode(t)) for t in text_batch}
            if len(lengths) > 1:
                raise ValueError(
                    f"the tokenizer has no pad token, so texts of different token lengths {sorted(lengths)} cannot "
                    "be batched: preprocess them one at a time or set tokenizer.pad_token"
                )
        result = self.tokenizer(
            text_batch,
            padding=padding,
            truncation=True,
            add_special_tokens=self.add_special_tokens,
            return_token_type_ids=False,
            return_attention_mask=True,
            max_length=self.max_seq_len,
            return_tensors="pt",
        )
        return result["input_ids"], ~result["attention_mask"].bool()

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(
            text, truncation=True, max_length=self.max_seq_len, add_special_tokens=self.add_special_tokens
        )["input_ids"]
