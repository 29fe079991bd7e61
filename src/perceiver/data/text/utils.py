"""Tokenizer helpers for the text data modules: loading (offline-aware) and word ids for whole-word masking."""

import os
from typing import Any

from transformers import AutoTokenizer, PreTrainedTokenizerBase

# Names of UTF-8 byte tokenizers (262 ids: 6 special tokens, then 256 bytes). Offline, they resolve to the
# library's byte tokenizer, which needs no files.
BYTE_TOKENIZER_NAMES = ("bytes", "deepmind/language-perceiver", "krasserm/perceiver-io-mlm")
WHITESPACE_BYTES = frozenset(b" \t\n\r\x0b\x0c")
NO_WORD = -1


def byte_tokenizer() -> PreTrainedTokenizerBase:
    """The UTF-8 byte tokenizer: the library's fast one (with ``word_ids()``), else ``transformers``' slow one."""
    try:
        from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
    except ImportError:
        from transformers import PerceiverTokenizer

        return PerceiverTokenizer()
    return perceiver_bytes_tokenizer()


def load_tokenizer(tokenizer: str | os.PathLike | PreTrainedTokenizerBase, padding_side: str | None = None):
    """A tokenizer instance from an instance, a local folder or a hub id. The byte tokenizer names work offline.

    :param padding_side: ``"left"`` or ``"right"`` overrides the tokenizer's own padding side.
    """
    if padding_side not in (None, "left", "right"):
        raise ValueError(f"padding_side must be 'left', 'right' or None, got {padding_side!r}")
    if isinstance(tokenizer, PreTrainedTokenizerBase):
        instance = tokenizer
    elif not isinstance(tokenizer, str | os.PathLike):
        raise TypeError(f"tokenizer must be a name, a path or a tokenizer, got {type(tokenizer).__name__}")
    elif str(tokenizer) == "bytes":
        instance = byte_tokenizer()
    else:
        try:
            instance = AutoTokenizer.from_pretrained(str(tokenizer))
        except (OSError, ValueError) as e:
            if str(tokenizer) in BYTE_TOKENIZER_NAMES:
                instance = byte_tokenizer()
            else:
                raise ValueError(
                    f"tokenizer {str(tokenizer)!r} could not be loaded (not a local tokenizer folder, and the hub is "
                    f"unreachable or has no such tokenizer): {e}"
                ) from e
    if padding_side is not None:
        instance.padding_side = padding_side
    return instance


def is_byte_tokenizer(tokenizer: PreTrainedTokenizerBase) -> bool:
    """A tokenizer whose non-special ids are the 256 UTF-8 bytes after its special tokens."""
    return len(tokenizer) == 262 and tokenizer.convert_tokens_to_ids("a") == 6 + ord("a")


def vocab_size(tokenizer: PreTrainedTokenizerBase) -> int:
    """Number of token ids (base vocabulary plus added tokens)."""
    return len(tokenizer)


class TextSizes:
    """Mixin of the text data modules: the sizes that the CLI links to a model's config, from the module's
    ``tokenizer`` and its ``max_seq_len`` hyper-parameter."""

    tokenizer: PreTrainedTokenizerBase

    @property
    def vocab_size(self) -> int:
        return vocab_size(self.tokenizer)

    @property
    def max_seq_len(self) -> int:
        return self.hparams.max_seq_len


def byte_word_ids(input_ids: list[int], special_ids: set[int], offset: int = 6) -> list[int]:
    """Word ids for byte tokens: a word is a maximal run of non-whitespace bytes; whitespace and special tokens
    get ``NO_WORD``. Multi-byte UTF-8 characters stay inside their word."""
    word_ids, word, in_word = [], -1, False
    for token_id in input_ids:
        if token_id in special_ids or token_id - offset in WHITESPACE_BYTES:
            word_ids.append(NO_WORD)
            in_word = False
            continue
        if not in_word:
            word += 1
            in_word = True
        word_ids.append(word)
    return word_ids


def tokenize_with_word_ids(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], add_special_tokens: bool
) -> dict[str, list[list[int]]]:
    """Tokenize ``texts`` and return ``input_ids`` and ``word_ids`` (``NO_WORD`` for special tokens and
    whitespace). Needs a fast tokenizer (``word_ids()``) or a byte tokenizer."""
    encoding = tokenizer(texts, add_special_tokens=add_special_tokens, truncation=False, verbose=False)
    if tokenizer.is_fast and hasattr(encoding, "word_ids"):
        word_ids = [[NO_WORD if w is None else w for w in encoding.word_ids(i)] for i in range(len(texts))]
    elif is_byte_tokenizer(tokenizer):
        special = set(tokenizer.all_special_ids)
        word_ids = [byte_word_ids(ids, special) for ids in encoding["input_ids"]]
    else:
        raise ValueError(
            f"whole word masking needs a fast tokenizer (with word_ids()) or the byte tokenizer, got "
            f"{type(tokenizer).__name__}; use mask_words=False for token masking"
        )
    return {"input_ids": encoding["input_ids"], "word_ids": word_ids}


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    return sorted(set(tokenizer.all_special_ids))


def describe(tokenizer: Any) -> str:
    """A short stable description of a tokenizer, part of the preprocessing cache key."""
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    return f"{type(tokenizer).__name__}:{name}:{len(tokenizer)}"
