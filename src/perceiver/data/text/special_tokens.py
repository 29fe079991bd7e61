"""Special tokens around a text, per task: the one place that says which tokens training, validation sampling and
inference put before and after a text.

Training adds what the data module's options ask for: ``add_special_tokens`` (the tokenizer's own tokens,
``[CLS] ... [SEP]`` for the bytes tokenizer) and ``add_eos_token`` (EOS after each text), both off by default as in
perceiver-io 0.11. At inference a text gets:

- ``mlm``, ``clf``: the tokens that training put before and after a text (a text to fill in or to classify is a whole
  text);
- ``clm``: only the tokens that training put before a text. A prompt is continued, not finished, so the tokens that
  end a text ([SEP], EOS) are never appended; an EOS learned in training ends generation instead.

:func:`serving_tokenizer` turns this into the tokenizer of a model folder: the tokens are its template (what
``tokenizer(text)`` adds, so every pipeline feeds the model the ids of training), ``model_max_length`` is the model's
``max_seq_len``, and it truncates longer texts by default (classification and fill-mask keep the start of a text,
generation keeps the end of a prompt).
"""

from dataclasses import dataclass

from tokenizers import Tokenizer, processors
from transformers import PreTrainedTokenizerBase

from perceiver.data.text.tokenizer import TruncatingTokenizer, build_bytes_tokenizer
from perceiver.data.text.utils import is_byte_tokenizer

TASKS = ("mlm", "clf", "clm")


@dataclass(frozen=True)
class TaskConvention:
    """``keeps_end_tokens``: inference inputs end with the tokens that end a training text. ``padding_side``: of
    batched inputs (``None``: the training tokenizer's). ``truncation_side``: which end of a long input is cut."""

    keeps_end_tokens: bool
    padding_side: str | None
    truncation_side: str


TASK_CONVENTIONS = {
    "mlm": TaskConvention(keeps_end_tokens=True, padding_side=None, truncation_side="right"),
    "clf": TaskConvention(keeps_end_tokens=True, padding_side=None, truncation_side="right"),
    # Perceiver AR: latents are the last positions, so prompts are padded on the left and their end is kept.
    "clm": TaskConvention(keeps_end_tokens=False, padding_side="left", truncation_side="left"),
}


@dataclass(frozen=True)
class TextSpecialTokens:
    """Token ids put before and after every text."""

    before: tuple[int, ...] = ()
    after: tuple[int, ...] = ()


def task_convention(task: str) -> TaskConvention:
    if task not in TASK_CONVENTIONS:
        raise ValueError(f"task must be one of {list(TASK_CONVENTIONS)}, got {task!r}")
    return TASK_CONVENTIONS[task]


def tokens_around_text(tokenizer: PreTrainedTokenizerBase) -> TextSpecialTokens:
    """The ids that ``tokenizer`` adds before and after a text when it adds special tokens."""
    probe = "a b"
    plain = tokenizer(probe, add_special_tokens=False, truncation=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True, truncation=False)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return TextSpecialTokens(tuple(full[:start]), tuple(full[start + len(plain) :]))
    raise ValueError(
        f"cannot tell which special tokens tokenizer {type(tokenizer).__name__} adds: with special tokens {probe!r} "
        f"is {full}, without {plain}"
    )


def training_special_tokens(
    tokenizer: PreTrainedTokenizerBase, add_special_tokens: bool, add_eos_token: bool
) -> TextSpecialTokens:
    """The ids that training (``TextDataModule``) puts before and after each text."""
    tokens = tokens_around_text(tokenizer) if add_special_tokens else TextSpecialTokens()
    if add_eos_token:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"add_eos_token=true, but tokenizer {type(tokenizer).__name__} has no EOS token")
        tokens = TextSpecialTokens(tokens.before, (*tokens.after, tokenizer.eos_token_id))
    return tokens


def inference_special_tokens(task: str, training: TextSpecialTokens) -> TextSpecialTokens:
    """The ids that an inference input of ``task`` gets, from those of a training text (see the module doc)."""
    return training if task_convention(task).keeps_end_tokens else TextSpecialTokens(training.before, ())


def serving_tokenizer(
    tokenizer: PreTrainedTokenizerBase,
    task: str,
    add_special_tokens: bool,
    add_eos_token: bool,
    max_seq_len: int,
) -> TruncatingTokenizer:
    """The tokenizer to save with a model of ``task`` trained on ``tokenizer`` with these options: its template adds
    the task's inference tokens, it truncates to ``max_seq_len`` by default and pads and truncates on the task's
    sides. ``tokenizer`` must be fast (or a UTF-8 bytes tokenizer, which is rebuilt as a fast one)."""
    convention = task_convention(task)
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len <= 0:
        raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
    special = inference_special_tokens(task, training_special_tokens(tokenizer, add_special_tokens, add_eos_token))
    backend = _fast_backend(tokenizer)
    backend.post_processor = _template(tokenizer, special)
    return TruncatingTokenizer(
        tokenizer_object=backend,
        model_max_length=max_seq_len,
        padding_side=convention.padding_side or tokenizer.padding_side,
        truncation_side=convention.truncation_side,
        model_input_names=["input_ids", "attention_mask"],
        **{k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)},
    )


def generation_token_ids(tokenizer: PreTrainedTokenizerBase, add_eos_token: bool) -> dict[str, int | None]:
    """``generate`` settings of a causal model trained with ``tokenizer``: its pad id, and its EOS id as the end of
    generation if training put EOS after each text (else ``None``: nothing learned to end a text)."""
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id if add_eos_token else None,
    }


def _fast_backend(tokenizer: PreTrainedTokenizerBase) -> Tokenizer:
    """A copy of the ``tokenizers`` object behind ``tokenizer`` (its template is replaced, the original kept)."""
    if tokenizer.is_fast:
        return Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    if is_byte_tokenizer(tokenizer):
        return build_bytes_tokenizer()
    raise ValueError(
        f"a model folder needs a fast tokenizer (whose special tokens can be set), got the slow "
        f"{type(tokenizer).__name__}: train with AutoTokenizer.from_pretrained(..., use_fast=True) or with the bytes "
        "tokenizer"
    )


def _template(tokenizer: PreTrainedTokenizerBase, special: TextSpecialTokens) -> processors.TemplateProcessing:
    before = tokenizer.convert_ids_to_tokens(list(special.before))
    after = tokenizer.convert_ids_to_tokens(list(special.after))
    single = [*before, "$A", *after]
    pair = [*single, "$B:1", *(f"{token}:1" for token in after)]
    ids = dict(zip(before + after, special.before + special.after, strict=True))
    return processors.TemplateProcessing(single=" ".join(single), pair=" ".join(pair), special_tokens=list(ids.items()))


__all__ = [
    "TASKS",
    "TASK_CONVENTIONS",
    "TaskConvention",
    "TextSpecialTokens",
    "generation_token_ids",
    "inference_special_tokens",
    "serving_tokenizer",
    "task_convention",
    "tokens_around_text",
    "training_special_tokens",
]
