"""Export with ``torch.export`` (and ONNX through it): the masked language model, the image classifier and one
cached decode step of a Perceiver AR model.

Each ``export_*`` helper returns a ``torch.export.ExportedProgram`` with dynamic batch (and, where the model allows
it, sequence or cache length) dimensions; :func:`to_onnx` writes any of them as an ONNX file through
``torch.onnx.export(..., dynamo=True)`` (needs the ``onnx`` and ``onnxscript`` packages).

A decode step is exported as a pure function of tensors: the token, and the valid part of every layer's key/value
cache (keys stored rotated, see :class:`~perceiver.model.core.kv_cache.KVCache`); it returns the logits of the next
token and each layer's keys and values extended by the new entry. The caller keeps the caches between steps (and runs
the prompt and refill passes of the latent schedule eagerly, or exports them with :func:`export_prefill`).
"""

from pathlib import Path

import torch
import torch.nn as nn
from torch.export import Dim, ExportedProgram

from perceiver.model.core.kv_cache import KVCache

__all__ = [
    "DecodeStep",
    "Prefill",
    "export_decode_step",
    "export_image_classifier",
    "export_masked_lm",
    "export_prefill",
    "to_onnx",
]


def _batch_dim() -> Dim:
    # torch.export specializes sizes 0 and 1, so examples need a batch of at least 2 for a dynamic batch
    return Dim("batch", min=1, max=1024)


def _require_batch_of_two(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.dim() < 2 or x.shape[0] < 2:
        raise ValueError(
            f"{name} must be an example batch of at least 2 rows (a batch of 1 would fix the batch size of the "
            f"exported program), got shape {tuple(x.shape)}"
        )


class _MaskedLM(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x_masked: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        return self.model(x_masked, pad_mask=pad_mask)


def export_masked_lm(model: nn.Module, x_masked: torch.Tensor, pad_mask: torch.Tensor | None = None) -> ExportedProgram:
    """Export a :class:`~perceiver.model.text.mlm.MaskedLanguageModel` (``(x_masked, pad_mask) -> logits``) with
    dynamic batch size and sequence length (up to ``model.max_seq_len``).

    :param x_masked: example token ids ``(b >= 2, n)``; ``n >= 2``.
    :param pad_mask: example pad mask (default: no padding); the exported program always takes one.
    """
    _require_batch_of_two("x_masked", x_masked)
    if pad_mask is None:
        pad_mask = torch.zeros_like(x_masked, dtype=torch.bool)
    seq = Dim("seq_len", min=1, max=model.max_seq_len)
    shapes = {"x_masked": {0: _batch_dim(), 1: seq}, "pad_mask": {0: _batch_dim(), 1: seq}}
    return torch.export.export(_MaskedLM(model).eval(), (x_masked, pad_mask), dynamic_shapes=shapes)


def export_image_classifier(model: nn.Module, x: torch.Tensor) -> ExportedProgram:
    """Export an :class:`~perceiver.model.vision.image_classifier.ImageClassifier` (channels-last images
    ``(b, h, w, c)`` -> logits) with a dynamic batch size; the image shape is the model's."""
    _require_batch_of_two("x", x)
    return torch.export.export(model.eval(), (x,), dynamic_shapes={"x": {0: _batch_dim()}})


def _caches_from(model: nn.Module, tensors: tuple[torch.Tensor, ...], extra: int) -> list[KVCache]:
    """KV caches holding ``tensors`` (``k0, v0, k1, v1, ...``) with room for ``extra`` more entries."""
    caches = []
    for k, v in zip(tensors[0::2], tensors[1::2]):
        cache = KVCache(k.shape[0], k.shape[1] + extra, k.shape[2], v.shape[2], k.dtype, k.device)
        cache.update(k, v)
        caches.append(cache)
    return caches


class DecodeStep(nn.Module):
    """One cached decoding step of a ``CausalSequenceModel`` as a function of tensors:
    ``(token (b, 1), k_0, v_0, ..., k_L, v_L) -> (logits (b, vocab), k_0', v_0', ..., k_L', v_L')``, where ``k_i``
    and ``v_i`` are the keys and values layer ``i`` holds (``(b, n_i, channels)``, layer 0 the cross-attention over
    the sequence, the others the self-attention layers over the latents) and ``k_i'``, ``v_i'`` have the new entry
    appended (no padding)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, token: torch.Tensor, *cache: torch.Tensor) -> tuple[torch.Tensor, ...]:
        caches = _caches_from(self.model, cache, extra=1)
        logits = self.model(token, prefix_len=0, kv_cache=caches).logits[:, -1]
        updated = [t for c in caches for t in (c.k, c.v)]
        return (logits, *updated)


class Prefill(nn.Module):
    """The full pass that fills the caches: ``(x (b, n)) -> (logits (b, vocab), k_0, v_0, ..., k_L, v_L)`` with the
    first ``prefix_len`` positions of ``x`` prefix and the rest latents."""

    def __init__(self, model: nn.Module, prefix_len: int):
        super().__init__()
        self.model = model
        self.prefix_len = prefix_len

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        caches = self.model.preallocated_kv_cache(x.shape[0], device=x.device)
        logits = self.model(x, prefix_len=self.prefix_len, kv_cache=caches).logits[:, -1]
        return (logits, *[t for c in caches for t in (c.k[:, : c.length], c.v[:, : c.length])])


def export_prefill(model: nn.Module, x: torch.Tensor, prefix_len: int) -> ExportedProgram:
    """Export :class:`Prefill` for prompts of ``x``'s shape (batch dynamic)."""
    _require_batch_of_two("x", x)
    return torch.export.export(Prefill(model, prefix_len).eval(), (x,), dynamic_shapes={"x": {0: _batch_dim()}})


def export_decode_step(model: nn.Module, token: torch.Tensor, cache: list[KVCache]) -> ExportedProgram:
    """Export :class:`DecodeStep` of a ``CausalSequenceModel`` with dynamic batch size and cache lengths.

    :param token: example newest token ids ``(b >= 2, 1)``.
    :param cache: example caches of ``model`` (e.g. ``model.preallocated_kv_cache(b)`` filled by a prefill pass:
        ``model(x, prefix_len, kv_cache=cache)``)
        holding at least 2 entries each and room for one more.
    """
    _require_batch_of_two("token", token)
    if token.dim() != 2 or token.shape[1] != 1:
        raise ValueError(f"token must have shape (batch_size, 1), got {tuple(token.shape)}")
    if not cache or not all(isinstance(c, KVCache) for c in cache):
        raise ValueError(
            "cache must be a non-empty list of KVCache (model.preallocated_kv_cache(b), filled by a forward pass)"
        )
    if any(c.length < 2 for c in cache):
        raise ValueError(f"every cache must hold at least 2 entries, got lengths {[c.length for c in cache]}")
    if cache[0].length >= model.max_seq_len:
        raise ValueError(f"the cross-attention cache is full ({cache[0].length} = max_seq_len entries)")
    tensors = tuple(t for c in cache for t in (c.k[:, : c.length], c.v[:, : c.length]))
    batch = _batch_dim()
    seq = Dim("num_cached", min=2, max=model.max_seq_len - 1)
    latents = Dim("num_cached_latents", min=2, max=model.max_latents - 1)
    cache_shapes = [{0: batch, 1: seq if i < 2 else latents} for i in range(len(tensors))]
    shapes = ({0: batch}, tuple(cache_shapes))  # the *cache varargs take one entry, a tuple
    return torch.export.export(DecodeStep(model).eval(), (token, *tensors), dynamic_shapes=shapes)


def to_onnx(program: ExportedProgram, path: str | Path) -> Path:
    """Write an exported program as ONNX (``torch.onnx.export(..., dynamo=True)``); needs ``onnx`` and
    ``onnxscript``. Dynamic dimensions stay dynamic. Returns the path."""
    if not isinstance(program, ExportedProgram):
        raise TypeError(f"program must be a torch.export.ExportedProgram, got {type(program).__name__}")
    path = Path(path)
    onnx_program = torch.onnx.export(program, dynamo=True)
    onnx_program.save(str(path))
    return path
