"""Key/value caches of attention layers: preallocated buffers with a length counter (:class:`KVCache`, updated in
place, used by generation), and perceiver-io 0.11's functional form (:data:`FunctionalKVCache`)."""

from typing import Any

import torch


class KVCache:
    """Projected keys and values of one attention layer, shape ``(batch, capacity, channels)``; keys are stored
    rotated where the layer rotates keys (each key once, as it enters).

    ``update`` writes new entries after the ones already held and returns views of everything held so far:
    no ``torch.cat`` per step, and the buffers never change shape. ``length`` counts the valid entries.
    """

    def __init__(
        self,
        batch_size: int,
        capacity: int,
        num_qk_channels: int,
        num_v_channels: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ):
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0, got {capacity}")
        self.k = torch.zeros(batch_size, capacity, num_qk_channels, dtype=dtype, device=device)
        self.v = torch.zeros(batch_size, capacity, num_v_channels, dtype=dtype, device=device)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k.shape[1]

    @property
    def batch_size(self) -> int:
        return self.k.shape[0]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = k.shape[1]
        end = self.length + n
        if end > self.capacity:
            raise ValueError(
                f"KV cache overflow: {self.length} cached + {n} new entries exceed its capacity {self.capacity}"
            )
        if k.shape[0] != self.batch_size:
            raise ValueError(f"KV cache holds batch size {self.batch_size}, got keys of batch size {k.shape[0]}")
        # narrow + copy_ (which converts to the cache's dtype): cheaper per decoding step than slice assignment
        self.k.narrow(1, self.length, n).copy_(k)
        self.v.narrow(1, self.length, n).copy_(v)
        self.length = end
        return self.k.narrow(1, 0, end), self.v.narrow(1, 0, end)

    def reset(self) -> None:
        self.length = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Select batch rows in place (beam search)."""
        self.k = self.k.index_select(0, index.to(self.k.device))
        self.v = self.v.index_select(0, index.to(self.v.device))

    def to(self, *args, **kwargs) -> "KVCache":
        self.k = self.k.to(*args, **kwargs)
        self.v = self.v.to(*args, **kwargs)
        return self

    def __repr__(self) -> str:
        return f"KVCache(length={self.length}, capacity={self.capacity}, batch_size={self.batch_size})"


FunctionalKVCache = tuple[torch.Tensor, torch.Tensor]
"""The cache of one attention layer in perceiver-io 0.11's functional form: projected keys and values (not rotated)
``(b, n, num_qk_channels)`` and ``(b, n, num_v_channels)``, passed in and returned anew, never changed in place."""


def check_functional_kv_cache(kv_cache: Any, batch_size: int, num_qk_channels: int, num_v_channels: int) -> None:
    if not (isinstance(kv_cache, tuple | list) and len(kv_cache) == 2):
        raise TypeError(
            f"kv_cache must be a KVCache or a (keys, values) tuple of tensors, got {type(kv_cache).__name__}"
        )
    for name, t, channels in (("keys", kv_cache[0], num_qk_channels), ("values", kv_cache[1], num_v_channels)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.shape[0] != batch_size or t.shape[2] != channels:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"kv_cache {name} must have shape ({batch_size}, n, {channels}), got {shape}")
    if kv_cache[0].shape[1] != kv_cache[1].shape[1]:
        raise ValueError(
            f"kv_cache keys and values must have the same length, got {kv_cache[0].shape[1]} and {kv_cache[1].shape[1]}"
        )


LayerCache = KVCache | FunctionalKVCache


def cache_length(cache: LayerCache) -> int:
    """Entries a layer's cache holds, in either form."""
    return cache.length if isinstance(cache, KVCache) else cache[0].shape[1]
