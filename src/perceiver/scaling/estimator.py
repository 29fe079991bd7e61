"""Chinchilla-style compute and parameter estimates for Perceiver AR language models.

These are the formulas of perceiver-io's scaling study ("Training compute-optimal Perceiver AR language models"):
Kaplan et al. (2020, Table 1) per-token forward FLOPs plus the embedding and output-logit terms of Hoffmann et al.
(2022, Appendix F), times 3 for forward and backward. They assume query/key/value width = ``num_channels`` and an
MLP widening factor of 4. The Perceiver AR is split in two parts:

- the *self-attention part*: latent token embedding, the hybrid layer's self-attention over the latents and all
  ``num_layers`` attention + MLP layers (the hybrid layer counts as one), and the output logits: it is a
  decoder-only transformer, the model that the Chinchilla laws describe;
- the *cross-attention part*: prefix token embedding and the hybrid layer's attention from the latents to the
  prefix (only ``1 - prefix_dropout`` of the prefix positions are kept in training).

For the FLOPs of a concrete configuration (other widths, widening factors, heads, batch and sequence sizes) as the
library computes them, see :func:`perceiver.scaling.training_flops`.
"""

import math

from perceiver.model.core.config import CausalSequenceModelConfig
from perceiver.model.core.utils import require_positive


def _require_prefix_dropout(prefix_dropout: float) -> None:
    if not isinstance(prefix_dropout, int | float) or isinstance(prefix_dropout, bool) or not 0 <= prefix_dropout < 1:
        raise ValueError(f"prefix_dropout must be a number in [0, 1), got {prefix_dropout!r}")


class ComputeEstimator:
    """Training FLOPs per latent token of a Perceiver AR with ``num_latents`` latents over sequences of
    ``max_seq_len`` tokens (``max_seq_len - num_latents`` prefix tokens) and a vocabulary of ``vocab_size``."""

    def __init__(self, vocab_size: int, max_seq_len: int, num_latents: int):
        require_positive(vocab_size=vocab_size, max_seq_len=max_seq_len, num_latents=num_latents)
        if num_latents > max_seq_len:
            raise ValueError(f"num_latents ({num_latents}) must be <= max_seq_len ({max_seq_len})")
        self.vocab_size = vocab_size
        self.num_latents = num_latents
        self.num_prefix = max_seq_len - num_latents

    @property
    def max_seq_len(self) -> int:
        return self.num_prefix + self.num_latents

    def self_attn(self, num_channels: int, num_layers: int) -> int:
        """Training FLOPs per latent token of the self-attention part (``num_layers`` includes the hybrid layer)."""
        require_positive(num_channels=num_channels, num_layers=num_layers)
        layer = self._self_attn_layer(num_channels) + self._mlp_layer(num_channels)
        forward = self._input_embed(num_channels) + num_layers * layer + self._final_logits(num_channels)
        return 3 * forward

    def cross_attn(self, num_channels: int, prefix_dropout: float = 0.5) -> int:
        """Training FLOPs per latent token of the cross-attention part: prefix embedding and the attention from
        the latents to the ``1 - prefix_dropout`` kept prefix positions, spread over the latent tokens."""
        require_positive(num_channels=num_channels)
        _require_prefix_dropout(prefix_dropout)
        prefix_per_latent = self.num_prefix / self.num_latents
        embed = self._input_embed(num_channels) * prefix_per_latent
        attend = self._cross_attn_layer(num_channels) * prefix_per_latent * (1.0 - prefix_dropout)
        # truncated to an int before the factor 3, as the reference does: its published numbers depend on it
        return 3 * int(embed + attend)

    @staticmethod
    def _input_embed(num_channels: int) -> int:
        return 4 * num_channels

    @staticmethod
    def _mlp_layer(num_channels: int) -> int:
        return 16 * num_channels**2  # two matrices of d x 4d

    def _self_attn_layer(self, num_channels: int) -> int:
        projections = 8 * num_channels**2  # q, k, v and output
        return projections + 2 * num_channels * self.num_latents  # scores over the latents (causal half not saved)

    def _cross_attn_layer(self, num_channels: int) -> int:
        """Per prefix token: its key and value projections and the scores of the latents against it."""
        return 4 * num_channels**2 + 2 * num_channels * self.num_latents

    def _final_logits(self, num_channels: int) -> int:
        return 2 * num_channels * self.vocab_size


def perceiver_ar_num_params(config: CausalSequenceModelConfig) -> int:
    """Trainable parameters of a ``CausalSequenceModel`` built from ``config`` (counted from the sizes: the number
    of heads does not change it)."""
    c = config.num_channels
    w_cross, w_self = config.cross_attention_widening_factor, config.self_attention_widening_factor
    embeddings = config.vocab_size * c + (config.max_seq_len * c if config.abs_pos_emb else 0)
    output = (config.vocab_size if config.output_bias else 0) + (2 * c if config.output_norm else 0)
    # hybrid layer: query and key/value norms, q/k/v without bias, output with bias, norm + MLP without biases
    hybrid = 2 * c + 2 * c + 3 * c * c + (c * c + c) + 2 * c + 2 * w_cross * c * c
    # self-attention layer: norm, q/k/v/output without biases, norm + MLP without biases
    layer = 2 * c + 4 * c * c + 2 * c + 2 * w_self * c * c
    return embeddings + output + hybrid + config.num_self_attention_layers * layer


def num_model_params(num_channels: int, num_layers: int, num_latents: int, num_prefix: int, vocab_size: int) -> int:
    """Trainable parameters of a ``CausalLanguageModel`` with the default config except these sizes
    (``num_layers`` counts the hybrid layer: ``num_self_attention_layers = num_layers - 1``)."""
    require_positive(num_channels=num_channels, num_layers=num_layers, num_latents=num_latents, vocab_size=vocab_size)
    if num_layers < 2:
        raise ValueError(
            f"num_layers must be >= 2 (the hybrid layer and at least one self-attention layer), got {num_layers}"
        )
    config = CausalSequenceModelConfig(
        vocab_size=vocab_size,
        max_seq_len=num_latents + num_prefix,
        max_latents=num_latents,
        num_channels=num_channels,
        num_self_attention_layers=num_layers - 1,
    )
    return perceiver_ar_num_params(config)


def num_cross_attn_params(num_channels: int, num_prefix: int) -> int:
    """Parameters only the cross-attention part has: the position embeddings of the prefix."""
    return num_channels * num_prefix


def num_self_attn_params(num_channels: int, num_layers: int, num_latents: int, num_prefix: int, vocab_size: int) -> int:
    """Parameters of the self-attention part (the decoder-only transformer inside the Perceiver AR)."""
    total = num_model_params(num_channels, num_layers, num_latents, num_prefix, vocab_size)
    return total - num_cross_attn_params(num_channels, num_prefix)


def num_training_tokens(num_steps: int, num_latents: int, batch_size: int) -> int:
    """Latent tokens seen in ``num_steps`` steps (the tokens the loss is computed on)."""
    return batch_size * num_latents * num_steps


def num_training_steps(num_tokens: float, num_latents: int, batch_size: int) -> int:
    """Steps needed to see ``num_tokens`` latent tokens (rounded up)."""
    return math.ceil(num_tokens / num_latents / batch_size)


class ModelInfo:
    """Sizes, parameter counts and compute of a Perceiver AR language model with ``num_channels`` and
    ``num_layers`` attention layers (the hybrid layer included), under ``compute_estimator``'s sequence sizes."""

    def __init__(self, num_channels: int, num_layers: int, compute_estimator: ComputeEstimator):
        require_positive(num_channels=num_channels, num_layers=num_layers)
        if not isinstance(compute_estimator, ComputeEstimator):
            raise TypeError(f"compute_estimator must be a ComputeEstimator, got {type(compute_estimator).__name__}")
        self.num_channels = num_channels
        self.num_layers = num_layers
        self.compute_estimator = compute_estimator
        # the sequence sizes of the estimator
        self.num_latents, self.num_prefix = compute_estimator.num_latents, compute_estimator.num_prefix
        self.vocab_size, self.max_seq_len = compute_estimator.vocab_size, compute_estimator.max_seq_len

    def __repr__(self) -> str:
        return f"ModelInfo(num_channels={self.num_channels}, num_layers={self.num_layers})"

    def _sizes(self) -> tuple[int, int, int, int, int]:
        return self.num_channels, self.num_layers, self.num_latents, self.num_prefix, self.vocab_size

    def num_params(self) -> int:
        """All trainable parameters, ``N = N_self + N_cross``."""
        return num_model_params(*self._sizes())

    def num_self_attn_params(self) -> int:
        """``N_self``: the parameters the scaling laws are about."""
        return num_self_attn_params(*self._sizes())

    def num_cross_attn_params(self) -> int:
        return num_cross_attn_params(self.num_channels, self.num_prefix)

    def self_attn_flops(self) -> int:
        """Training FLOPs per latent token of the self-attention part (:meth:`ComputeEstimator.self_attn`)."""
        return self.compute_estimator.self_attn(self.num_channels, self.num_layers)

    def self_attn_flops_approx(self) -> int:
        """The common ``C = 6 N`` approximation, per latent token."""
        return 6 * self.num_self_attn_params()

    def cross_attn_flops(self, prefix_dropout: float = 0.5) -> int:
        """Training FLOPs per latent token of the cross-attention part (:meth:`ComputeEstimator.cross_attn`)."""
        return self.compute_estimator.cross_attn(self.num_channels, prefix_dropout=prefix_dropout)

    def num_tokens(self, flops: float) -> float:
        """Latent tokens that a self-attention compute budget of ``flops`` pays for (``D = C / C_self``)."""
        if not flops > 0:
            raise ValueError(f"flops must be > 0, got {flops!r}")
        return flops / self.self_attn_flops()

    def num_steps(self, flops: float, batch_size: int) -> int:
        """Training steps of ``batch_size`` sequences that the budget ``flops`` pays for (rounded up)."""
        require_positive(batch_size=batch_size)
        return num_training_steps(self.num_tokens(flops), self.num_latents, batch_size)

    def compute_budget(self, num_steps: int, batch_size: int) -> tuple[int, int]:
        """Self-attention compute ``C`` and latent tokens ``D`` of training for ``num_steps`` steps of
        ``batch_size`` sequences (the reference's ``training_flops(ref_model, num_steps, batch_size)``)."""
        require_positive(num_steps=num_steps, batch_size=batch_size)
        tokens = num_training_tokens(num_steps, self.num_latents, batch_size)
        return self.self_attn_flops() * tokens, tokens
