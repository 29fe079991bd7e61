"""Input adapters (task input -> generic array), output adapters (decoder output -> task output) and queries."""

from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn

from perceiver.model.core.config import resolve_init_scale
from perceiver.model.core.position import FrequencyPositionEncoding, positions
from perceiver.model.core.utils import inputs_checked, require_positive


class InputAdapter(nn.Module):
    """Turns task input into an array of shape ``(b, m, num_input_channels)``.

    Adapters that concatenate per-example features with channels shared by the batch (position encodings) set
    ``supports_split_input`` and return a :class:`~perceiver.model.core.split_input.SplitInput` from
    ``forward(x, split=True)``: the encoder's cross-attention then projects the shared channels once per position.
    """

    supports_split_input: bool = False

    def __init__(self, num_input_channels: int):
        super().__init__()
        require_positive(num_input_channels=num_input_channels)
        self._num_input_channels = num_input_channels

    @property
    def num_input_channels(self) -> int:
        return self._num_input_channels


class RotarySupport(InputAdapter):
    """Mixin: ``forward`` also returns rotary frequency encodings of the absolute positions."""

    def __init__(self, rotated_channels_per_head: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frq_pos_encoding = FrequencyPositionEncoding(dim=rotated_channels_per_head)

    def forward(self, x: torch.Tensor, abs_pos: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if abs_pos is None:
            abs_pos = positions(*x.shape, device=x.device)
        return super().forward(x, abs_pos), self.frq_pos_encoding(abs_pos)


class TokenInputAdapter(InputAdapter):
    """Token embedding plus an optional learned absolute position embedding."""

    def __init__(self, vocab_size: int, max_seq_len: int, num_input_channels: int, abs_pos_emb: bool = True):
        require_positive(vocab_size=vocab_size, max_seq_len=max_seq_len)
        self._vocab_size = vocab_size
        self._max_seq_len = max_seq_len
        self._abs_pos_emb = abs_pos_emb
        super().__init__(num_input_channels)
        self.txt_embedding = nn.Embedding(vocab_size, num_input_channels)
        if abs_pos_emb:
            self.pos_embedding = nn.Embedding(max_seq_len, num_input_channels)

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def max_seq_len(self) -> int:
        return self._max_seq_len

    def forward(self, x: torch.Tensor, abs_pos: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: token ids ``(b, n)``. ``abs_pos`` may cover a longer sequence ``(b, >= n)`` whose last ``n``
        positions are those of ``x`` (decoding with a cache)."""
        if not inputs_checked():
            check_token_ids(x, self.vocab_size, self.max_seq_len)
        emb = self.txt_embedding(x)
        if not self._abs_pos_emb:
            return emb
        if abs_pos is None:
            # default positions 0..n-1 in every row: broadcast the table instead of gathering it per example
            return emb + self.pos_embedding.weight[: x.shape[1]]
        return emb + self.pos_embedding(abs_pos[:, abs_pos.shape[1] - x.shape[1] :])


def check_token_ids(x: torch.Tensor, vocab_size: int, max_seq_len: int | None = None, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of token ids, got {type(x).__name__}")
    if x.dtype not in (torch.int64, torch.int32):
        # nn.Embedding indexes with int64 or int32 only (other integer dtypes fail inside torch)
        raise TypeError(f"{name} must hold integer token ids, got dtype {x.dtype} (allowed: torch.int64, torch.int32)")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (batch_size, seq_len), got shape {tuple(x.shape)}")
    if max_seq_len is not None and x.shape[1] > max_seq_len:
        raise ValueError(f"{name} has sequence length {x.shape[1]}, longer than max_seq_len ({max_seq_len})")
    if x.numel() and not torch.compiler.is_compiling():
        lo, hi = torch.aminmax(x)
        if lo < 0 or hi >= vocab_size:
            raise ValueError(
                f"{name} holds token ids in [{int(lo)}..{int(hi)}], outside the vocabulary [0..{vocab_size - 1}]"
            )


class TokenInputAdapterWithRotarySupport(RotarySupport, TokenInputAdapter):
    def __init__(
        self,
        rotated_channels_per_head: int,
        vocab_size: int,
        max_seq_len: int,
        num_input_channels: int,
        abs_pos_emb: bool = True,
    ):
        super().__init__(
            rotated_channels_per_head=rotated_channels_per_head,
            vocab_size=vocab_size,
            max_seq_len=max_seq_len,
            num_input_channels=num_input_channels,
            abs_pos_emb=abs_pos_emb,
        )


class OutputAdapter(nn.Module):
    """Turns decoder output into task output."""


class ClassificationOutputAdapter(OutputAdapter):
    def __init__(self, num_classes: int, num_output_query_channels: int):
        super().__init__()
        require_positive(num_classes=num_classes, num_output_query_channels=num_output_query_channels)
        self.linear = nn.Linear(num_output_query_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(dim=1)


class TiedTokenOutputAdapter(OutputAdapter):
    """Logits from the input token embedding (weight tying), plus an optional bias."""

    def __init__(self, vocab_size: int, emb_bias: bool = True):
        super().__init__()
        require_positive(vocab_size=vocab_size)
        if emb_bias:
            self.bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.bias = None

    def forward(self, x: torch.Tensor, txt_embedding: nn.Embedding) -> torch.Tensor:
        return nn.functional.linear(x, txt_embedding.weight, self.bias)


@runtime_checkable
class QueryProvider(Protocol):
    """Provides the queries of a cross-attention (latents of an encoder, output queries of a decoder)."""

    @property
    def num_query_channels(self) -> int: ...

    def __call__(self, x: torch.Tensor | None = None) -> torch.Tensor: ...


class TrainableQueryProvider(nn.Module):
    """Learned queries of shape ``(1, num_queries, num_query_channels)``, broadcast over the batch."""

    def __init__(self, num_queries: int, num_query_channels: int, init_scale: float | None = 0.02):
        """``init_scale=None``: ``default_init_scale(num_query_channels)``."""
        super().__init__()
        require_positive(num_queries=num_queries, num_query_channels=num_query_channels)
        self._query = nn.Parameter(torch.empty(num_queries, num_query_channels))
        self._init_parameters(resolve_init_scale(init_scale, num_query_channels))

    def _init_parameters(self, init_scale: float) -> None:
        with torch.no_grad():
            self._query.normal_(0.0, init_scale)

    @property
    def num_query_channels(self) -> int:
        return self._query.shape[-1]

    def forward(self, x: torch.Tensor | None = None) -> torch.Tensor:
        return self._query.unsqueeze(0)


__all__ = [
    "ClassificationOutputAdapter",
    "InputAdapter",
    "OutputAdapter",
    "QueryProvider",
    "RotarySupport",
    "TiedTokenOutputAdapter",
    "TokenInputAdapter",
    "TokenInputAdapterWithRotarySupport",
    "TrainableQueryProvider",
]
