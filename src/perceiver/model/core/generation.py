"""Exact generation with Perceiver AR: one latent schedule for the cached and the uncached path.

Perceiver AR predicts the next token from its latents, the last positions of the sequence. Which positions are
latents and which are prefix changes what the model computes: the hybrid cross-attention layer normalises prefix
positions with ``kv_norm`` and latents with ``q_norm``, and only latents pass through the self-attention stack.
A KV cache is therefore exact only while the prefix stays fixed and the latents grow. The :class:`LatentSchedule`
says, for every sequence length, which window of the sequence the model sees and where its prefix ends:

1. **Growing.** The prompt's last ``num_latents`` positions are latents, the rest prefix. Each new token becomes one
   more latent, until there are ``max_latents``.
2. **Refill.** The next step moves the prefix/latent boundary: the last ``refill_latents`` positions become the
   latents and everything before them prefix. A full forward pass computes this and refills the cache; then the
   latents grow again to ``max_latents``, and so on (the method of the Perceiver AR paper; Flaxformer refills to
   ``max_latents - 128``).
3. **Sliding.** When a refill would make the prefix longer than ``max_seq_len - max_latents``, the window drops the
   oldest positions so that the prefix is exactly that long; positions are counted from the window's start, as in
   training.

The uncached path runs the full forward pass of the schedule's window at every step; the cached path runs it only at
the schedule's refill steps and feeds the newest token otherwise. Both compute the same function of the sequence.
"""

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from perceiver.model.core.kv_cache import KVCache


def default_refill_latents(max_latents: int) -> int:
    """Latents after a refill: ``max_latents - 128`` (Flaxformer) for large windows, half the window for small ones,
    so that a refill pass is needed every ``min(128, max_latents // 2) + 1`` steps."""
    return max_latents - min(128, max_latents // 2)


def check_generation_inputs(seq_len: int, num_latents: int, max_seq_len: int, max_latents: int) -> int:
    """Validate a prompt length and initial latent count (perceiver-io 0.11 messages); return the number of latents
    actually used, ``min(seq_len, num_latents)``."""
    if not 0 < seq_len <= max_seq_len:
        raise ValueError(f"Input sequence length out of valid range [1..{max_seq_len}]")
    if isinstance(num_latents, bool) or not isinstance(num_latents, int):
        raise TypeError(f"num_latents must be an int, got {type(num_latents).__name__} ({num_latents!r})")
    if not 0 < num_latents <= max_latents:
        raise ValueError(f"num_latents={num_latents} out of valid range [1..{max_latents}]")
    num_latents = min(seq_len, num_latents)
    max_prefix_len = max_seq_len - max_latents
    if seq_len - num_latents > max_prefix_len:
        raise ValueError(
            f"For given sequence of length={seq_len}, num_latents must be in range "
            f"[{seq_len - max_prefix_len}..{max_latents}]"
        )
    return num_latents


@dataclass(frozen=True)
class Window:
    """What the model sees to predict the token after a sequence of some length: the positions from ``start`` on,
    the first ``prefix_len`` of them prefix. ``refill``: the cached path runs a full forward pass at this step."""

    start: int
    prefix_len: int
    refill: bool


@dataclass(frozen=True)
class LatentSchedule:
    """The latent schedule of one generation run (see the module docstring). Lengths count tensor columns, left
    padding included, so every row of a batch follows the same schedule."""

    max_seq_len: int
    max_latents: int
    prompt_len: int
    num_latents: int
    refill_latents: int

    @classmethod
    def create(
        cls,
        max_seq_len: int,
        max_latents: int,
        prompt_len: int,
        num_latents: int = 1,
        refill_latents: int | None = None,
    ) -> "LatentSchedule":
        """Validate the prompt and the latent counts; ``num_latents`` larger than the prompt is cut to its length and
        ``refill_latents=None`` is :func:`default_refill_latents`."""
        num_latents = check_generation_inputs(prompt_len, num_latents, max_seq_len, max_latents)
        if refill_latents is None:
            refill_latents = default_refill_latents(max_latents)
        if isinstance(refill_latents, bool) or not isinstance(refill_latents, int):
            raise TypeError(f"refill_latents must be an int, got {type(refill_latents).__name__} ({refill_latents!r})")
        if not 0 < refill_latents <= max_latents:
            raise ValueError(f"refill_latents={refill_latents} out of valid range [1..{max_latents}]")
        return cls(max_seq_len, max_latents, prompt_len, num_latents, refill_latents)

    @property
    def max_prefix_len(self) -> int:
        return self.max_seq_len - self.max_latents

    @property
    def first_refill(self) -> int:
        """Sequence length at which the latents would first exceed ``max_latents``."""
        return self.prompt_len - self.num_latents + self.max_latents + 1

    @property
    def refill_period(self) -> int:
        """Steps between two refills."""
        return self.max_latents - self.refill_latents + 1

    def window(self, seq_len: int) -> Window:
        """The window for predicting the token after the first ``seq_len`` columns of the sequence."""
        if seq_len < self.prompt_len:
            raise ValueError(f"seq_len ({seq_len}) is shorter than the prompt ({self.prompt_len})")
        if seq_len < self.first_refill:
            return Window(start=0, prefix_len=self.prompt_len - self.num_latents, refill=seq_len == self.prompt_len)
        refill_at = seq_len - (seq_len - self.first_refill) % self.refill_period
        latent_start = refill_at - self.refill_latents
        start = max(0, latent_start - self.max_prefix_len)
        return Window(start=start, prefix_len=latent_start - start, refill=seq_len == refill_at)

    def num_refills(self, seq_len: int) -> int:
        """Full forward passes the cached path runs before it has predicted the token after ``seq_len`` columns."""
        if seq_len < self.first_refill:
            return 1
        return 2 + (seq_len - self.first_refill) // self.refill_period


@dataclass
class StepInputs:
    """Arguments of one Perceiver AR forward pass in a generation step."""

    x: torch.Tensor
    prefix_len: int
    pad_mask: torch.Tensor | None
    kv_cache: list[KVCache] | None

    def as_kwargs(self) -> dict[str, Any]:
        return {"x": self.x, "prefix_len": self.prefix_len, "pad_mask": self.pad_mask, "kv_cache": self.kv_cache}


def step_inputs(
    schedule: LatentSchedule,
    input_ids: torch.Tensor,
    pad_mask: torch.Tensor | None = None,
    kv_cache: list[KVCache] | None = None,
    use_cache: bool = True,
) -> StepInputs:
    """Model inputs for predicting the token after ``input_ids`` (all columns so far, ``(b, n)``).

    Without a cache: the schedule's window. With a cache (``kv_cache``: the model's
    :meth:`~perceiver.model.core.perceiver_ar.CausalSequenceModel.preallocated_kv_cache`, kept by the caller):
    only the newest token when the cache holds exactly the window's earlier positions and the schedule does not
    refill; otherwise the caches are emptied (their buffers are kept) and the window runs in full.
    """
    seq_len = input_ids.shape[1]
    window = schedule.window(seq_len)
    pad_mask = None if pad_mask is None else pad_mask[:, window.start :]
    if pad_mask is not None and not pad_mask.any():
        pad_mask = None
    if not use_cache:
        return StepInputs(input_ids[:, window.start :], window.prefix_len, pad_mask, None)
    if not kv_cache or not all(isinstance(cache, KVCache) for cache in kv_cache):
        raise ValueError("use_cache needs the model's preallocated caches: kv_cache=model.preallocated_kv_cache(b)")
    num_cached = kv_cache[0].length
    if not window.refill and num_cached > 0 and num_cached == seq_len - 1 - window.start:
        return StepInputs(input_ids[:, -1:], 0, pad_mask, kv_cache)
    for cache in kv_cache:
        cache.reset()
    return StepInputs(input_ids[:, window.start :], window.prefix_len, pad_mask, kv_cache)


@dataclass
class GenerationOutput:
    """``sequences`` ``(b, prompt + new)``; ``logits`` ``(b, new, vocab)``: the logits each new token came from."""

    sequences: torch.Tensor
    logits: torch.Tensor


@torch.no_grad()
def generate_greedy(
    model: nn.Module,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    num_latents: int = 1,
    pad_mask: torch.Tensor | None = None,
    use_cache: bool = True,
    refill_latents: int | None = None,
    compile: bool = False,
) -> GenerationOutput:
    """Greedy decoding with a :class:`~perceiver.model.core.perceiver_ar.CausalSequenceModel` (no Hugging Face in
    the loop): the reference loop for testing the schedule and the cache, and for benchmarks.

    :param pad_mask: ``(b, n)`` bool, ``True`` = padding, left padding only.
    :param compile: run the cached single-token steps through :func:`compiled_decode_step` (the first call compiles,
        which takes seconds; later calls with the same model reuse it).
    """
    # transformers' generate (and so every pipeline) refuses 0 as well: one rule for both
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape (batch_size, seq_len), got shape {tuple(input_ids.shape)}")
    schedule = LatentSchedule.create(
        model.max_seq_len, model.max_latents, input_ids.shape[1], num_latents, refill_latents
    )
    if pad_mask is not None:
        check_left_padding(~pad_mask)
    kv_cache = model.preallocated_kv_cache(input_ids.shape[0], device=input_ids.device) if use_cache else None
    sequences, step_logits = input_ids, []
    forward = compiled_decode_step(model) if compile else model
    for _ in range(max_new_tokens):
        inputs = step_inputs(schedule, sequences, pad_mask, kv_cache, use_cache)
        logits = forward(**inputs.as_kwargs()).logits[:, -1]
        step_logits.append(logits)
        next_token = logits.argmax(dim=-1, keepdim=True)
        sequences = torch.cat([sequences, next_token], dim=1)
        if pad_mask is not None:
            pad_mask = torch.cat([pad_mask, pad_mask.new_zeros(pad_mask.shape[0], 1)], dim=1)
    vocab_size = model.config.vocab_size
    logits = torch.stack(step_logits, dim=1) if step_logits else input_ids.new_zeros(input_ids.shape[0], 0, vocab_size)
    return GenerationOutput(sequences=sequences, logits=logits)


class CompiledDecodeStep:
    """Runs a Perceiver AR model with cached single-token steps compiled by ``torch.compile`` and every other call
    (prompt and refill passes, uncached calls) eagerly.

    A cached step has the same shapes at every step except the cache length, a Python int that ``dynamic=True``
    turns into a symbolic size, so one graph serves all steps (a second one when a pad mask is given). The buffers of
    :class:`~perceiver.model.core.kv_cache.KVCache` never change shape, which is what makes this work.
    """

    def __init__(self, model: nn.Module, **compile_kwargs: Any):
        self.model = model
        compile_kwargs.setdefault("dynamic", True)
        self._compiled = torch.compile(model.forward, **compile_kwargs)

    @staticmethod
    def is_cached_step(x: torch.Tensor, kv_cache: list[KVCache] | None) -> bool:
        preallocated = bool(kv_cache) and isinstance(kv_cache[0], KVCache)
        return preallocated and kv_cache[0].length > 0 and x.dim() == 2 and x.shape[1] == 1

    def __call__(self, x: torch.Tensor, **kwargs: Any) -> Any:
        """The model's ``forward(x, prefix_len, pad_mask, kv_cache)``, compiled for cached single-token steps."""
        forward = self._compiled if self.is_cached_step(x, kwargs.get("kv_cache")) else self.model
        return forward(x, **kwargs)


def compiled_decode_step(model: nn.Module) -> CompiledDecodeStep:
    """The :class:`CompiledDecodeStep` of ``model`` (a ``CausalSequenceModel``), made once per model and kept on it
    (outside its modules and state), so that repeated generation calls do not compile again."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    step = model.__dict__.get(_COMPILED_STEP_ATTR)
    if step is None:
        step = model.__dict__[_COMPILED_STEP_ATTR] = CompiledDecodeStep(model)
    return step


_COMPILED_STEP_ATTR = "_compiled_decode_step"


def check_left_padding(attention_mask: torch.Tensor) -> None:
    """Perceiver AR generation needs left padding: in each row of ``attention_mask`` (1 = token) no token precedes
    a pad position."""
    mask = attention_mask.bool()
    if mask.dim() != 2:
        raise ValueError(f"attention_mask must have shape (batch_size, seq_len), got shape {tuple(mask.shape)}")
    # left padded: the mask never falls from 1 to 0 along a row
    falls = mask[:, :-1] & ~mask[:, 1:]
    if falls.any():
        rows = falls.any(dim=1).nonzero().flatten().tolist()
        raise ValueError(
            f"attention_mask must be left-padded (padding before the tokens; use a tokenizer with "
            f"padding_side='left'), but rows {rows} have padding after a token"
        )
