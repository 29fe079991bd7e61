"""The Perceiver UTF-8 bytes tokenizer as a *fast* tokenizer on the `tokenizers` library.

Same ids as `transformers.PerceiverTokenizer` (the tokenizer of ``deepmind/language-perceiver``): six special tokens
``[PAD]=0 [BOS]=1 [EOS]=2 [MASK]=3 [CLS]=4 [SEP]=5``, then byte ``b`` -> id ``b + 6`` (vocabulary 262), and
``[CLS] ... [SEP]`` around a sequence when special tokens are added. Being a fast tokenizer it also has offsets and
``word_ids()``: a word is a run of non-whitespace together with the whitespace before it, which is what whole-word
masking needs.

The saved folder records the generic fast tokenizer class, so ``AutoTokenizer.from_pretrained(folder)`` loads it in
any process, with or without this package.
"""

import os
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("[PAD]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]")
NUM_SPECIAL_TOKENS = len(SPECIAL_TOKENS)
VOCAB_SIZE = NUM_SPECIAL_TOKENS + 256
MODEL_MAX_LENGTH = 2048

PAD_TOKEN_ID, BOS_TOKEN_ID, EOS_TOKEN_ID, MASK_TOKEN_ID, CLS_TOKEN_ID, SEP_TOKEN_ID = range(NUM_SPECIAL_TOKENS)


def byte_to_unicode() -> dict[int, str]:
    """The reversible byte -> printable character map of the ``ByteLevel`` pre-tokenizer (GPT-2's): printable
    Latin-1 bytes map to themselves, the others to code points from 256 upwards."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def build_bytes_tokenizer() -> Tokenizer:
    """The raw `tokenizers.Tokenizer`: byte-level characters as a BPE vocabulary without merges (one token per byte),
    whitespace-delimited words as pre-tokens, the six special tokens and the ``[CLS] $A [SEP]`` template."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({char: b + NUM_SPECIAL_TOKENS for b, char in byte_to_unicode().items()})
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # Whitespace joins the word after it; these splits become the word ids.
            pre_tokenizers.Split(Regex(r"\s+"), behavior="merged_with_next"),
            # No regex: bytes only, no further splitting and no prefix space.
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()  # invalid UTF-8 decodes to U+FFFD, like the slow tokenizer
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    cls, sep = SPECIAL_TOKENS[CLS_TOKEN_ID], SPECIAL_TOKENS[SEP_TOKEN_ID]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B {sep}",
        special_tokens=[(cls, CLS_TOKEN_ID), (sep, SEP_TOKEN_ID)],
    )
    return tokenizer


def perceiver_bytes_tokenizer(model_max_length: int = MODEL_MAX_LENGTH, padding_side: str = "right"):
    """A fast Perceiver UTF-8 bytes tokenizer (a `transformers.PreTrainedTokenizerFast`).

    :param model_max_length: longest sequence the model takes (truncation default); 2048 for the official model.
    :param padding_side: ``"right"`` (Perceiver IO) or ``"left"`` (Perceiver AR).
    """
    if isinstance(model_max_length, bool) or not isinstance(model_max_length, int) or model_max_length <= 0:
        raise ValueError(f"model_max_length must be a positive int, got {model_max_length!r}")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    pad, bos, eos, mask, cls, sep = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(
        tokenizer_object=build_bytes_tokenizer(),
        pad_token=pad,
        bos_token=bos,
        eos_token=eos,
        mask_token=mask,
        cls_token=cls,
        sep_token=sep,
        model_max_length=model_max_length,
        padding_side=padding_side,
        model_input_names=["input_ids", "attention_mask"],
    )


class TruncatingTokenizer(PreTrainedTokenizerFast):
    """A fast tokenizer that truncates to ``model_max_length`` unless a call asks otherwise (``truncation=False`` or
    another ``max_length``), so that pipelines, which call the tokenizer without truncation options, never pass a
    model more tokens than it has positions. The tokenizer of a ready model folder (see
    :func:`perceiver.data.text.special_tokens.serving_tokenizer`); the side it cuts is ``truncation_side``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("truncation") is None and kwargs.get("max_length") is None:
            kwargs["truncation"] = True
        return super().__call__(*args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        folder = Path(str(pretrained_model_name_or_path))
        if folder.is_dir() and not (folder / "tokenizer.json").is_file():
            # AutoTokenizer lands here for a model folder of this package that was saved without a tokenizer
            raise ValueError(
                f"{os.fspath(folder)} has no tokenizer (tokenizer.json): the folder holds only a model, e.g. from "
                "to_hgf_model().save_pretrained(...). Write a ready folder (the CLI's fit does, see docs/inference.md) "
                "or save the training tokenizer into it: data.serving_tokenizer().save_pretrained(folder)"
            )
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)


__all__ = [
    "MASK_TOKEN_ID",
    "PAD_TOKEN_ID",
    "SPECIAL_TOKENS",
    "TruncatingTokenizer",
    "VOCAB_SIZE",
    "build_bytes_tokenizer",
    "byte_to_unicode",
    "perceiver_bytes_tokenizer",
]
