"""Configuration dataclasses. Field names are those of perceiver-io 0.11, so its saved configs load (they name all
their values). One default differs: ``init_scale`` of the Perceiver IO encoder and decoder (see
:func:`default_init_scale`)."""

from dataclasses import asdict, dataclass, fields
from typing import Any, Generic, TypeVar


def _base_kwargs(config: Any, base_class: type, exclude: tuple[str, ...]) -> dict[str, Any]:
    names = {f.name for f in fields(base_class) if f.name not in exclude}
    return {k: v for k, v in asdict(config).items() if k in names}


def default_init_scale(num_channels: int) -> float:
    """The ``init_scale`` used when a Perceiver IO config leaves it ``None`` (the default): ``(2 * num_channels) **
    -0.5`` for ``num_channels`` latent channels, 0.0198 at the 1280 channels of perceiver-io 0.11's models (whose
    fixed default was 0.02), 0.0625 at 128 and 0.088 at 64.

    A linear layer with weights N(0, s) scales its input by ``s * sqrt(fan_in)``. At s = 0.02 and 64-128 channels
    that is 0.16-0.23 per layer: attention logits start near 0 (uniform attention), GELUs work in their linear range
    and the outputs hardly depend on the input; Adam's updates of about ``lr`` per step are then large against the
    weights (5 % at lr 1e-3), and a small classifier trained from scratch falls to an output that ignores its input
    (chance accuracy). Scaling with the width keeps ``s * sqrt(fan_in)`` near 0.7, where the reference's
    1280-channel models started."""
    if num_channels <= 0:
        raise ValueError(f"num_channels must be > 0, got {num_channels}")
    return (2 * num_channels) ** -0.5


def resolve_init_scale(init_scale: float | None, num_channels: int) -> float:
    """``init_scale``, or :func:`default_init_scale` for ``num_channels`` where it is ``None``."""
    return default_init_scale(num_channels) if init_scale is None else init_scale


@dataclass
class EncoderConfig:
    """Perceiver IO encoder: cross-attention from the latents to the input, then blocks of latent self-attention.

    :param num_cross_attention_heads: attention heads of the input cross-attention.
    :param num_cross_attention_qk_channels: query/key channels of the cross-attention (null: the input's or the
        latents' width, by task).
    :param num_cross_attention_v_channels: value channels of the cross-attention (null: the query/key channels).
    :param num_cross_attention_layers: cross-attention layers to the input (> 1: the original Perceiver, one before
        each of the first self-attention blocks).
    :param first_cross_attention_layer_shared: whether cross-attention layers 2.. share the first one's weights.
    :param cross_attention_widening_factor: MLP width of the cross-attention layer, as a multiple of its channels.
    :param num_self_attention_heads: attention heads of each latent self-attention layer.
    :param num_self_attention_qk_channels: query/key channels of self-attention (null: num_latent_channels).
    :param num_self_attention_v_channels: value channels of self-attention (null: the query/key channels).
    :param num_self_attention_layers_per_block: self-attention layers in each block.
    :param num_self_attention_blocks: self-attention blocks (blocks 2.. share weights, see the next option).
    :param first_self_attention_block_shared: whether blocks 2.. share the first block's weights.
    :param self_attention_widening_factor: MLP width of self-attention layers, as a multiple of their channels.
    :param dropout: dropout of the attention weights.
    :param init_scale: standard deviation of the initial weights (null: scaled to the width, see
        ``default_init_scale``; perceiver-io 0.11 used 0.02).
    :param freeze: train nothing of the encoder (e.g. a classifier on a pretrained encoder).
    """

    num_cross_attention_heads: int = 8
    num_cross_attention_qk_channels: int | None = None
    num_cross_attention_v_channels: int | None = None
    num_cross_attention_layers: int = 1
    first_cross_attention_layer_shared: bool = False
    cross_attention_widening_factor: int = 1
    num_self_attention_heads: int = 8
    num_self_attention_qk_channels: int | None = None
    num_self_attention_v_channels: int | None = None
    num_self_attention_layers_per_block: int = 8
    num_self_attention_blocks: int = 1
    first_self_attention_block_shared: bool = True
    self_attention_widening_factor: int = 1
    dropout: float = 0.0
    init_scale: float | None = None  # None: default_init_scale(num_latent_channels); perceiver-io 0.11: 0.02
    freeze: bool = False

    def base_kwargs(self, exclude: tuple[str, ...] = ("freeze",)) -> dict[str, Any]:
        return _base_kwargs(self, EncoderConfig, exclude)


@dataclass
class DecoderConfig:
    """Perceiver IO decoder: cross-attention from output queries to the latents.

    :param num_cross_attention_heads: attention heads of the decoder cross-attention.
    :param num_cross_attention_qk_channels: query/key channels (null: the output queries' width).
    :param num_cross_attention_v_channels: value channels (null: the query/key channels).
    :param cross_attention_widening_factor: MLP width, as a multiple of the output query channels.
    :param cross_attention_residual: add the output queries to the attention output (false for the masked LM and
        optical flow, as in their official checkpoints).
    :param dropout: dropout of the attention weights.
    :param init_scale: standard deviation of the initial weights (null: scaled to the latents' width, see
        ``default_init_scale``; perceiver-io 0.11 used 0.02).
    :param freeze: train nothing of the decoder.
    """

    num_cross_attention_heads: int = 8
    num_cross_attention_qk_channels: int | None = None
    num_cross_attention_v_channels: int | None = None
    cross_attention_widening_factor: int = 1
    cross_attention_residual: bool = True
    dropout: float = 0.0
    init_scale: float | None = None  # None: default_init_scale(num_latent_channels); perceiver-io 0.11: 0.02
    freeze: bool = False

    def base_kwargs(self, exclude: tuple[str, ...] = ("freeze",)) -> dict[str, Any]:
        return _base_kwargs(self, DecoderConfig, exclude)


@dataclass
class ClassificationDecoderConfig(DecoderConfig):
    """Classification decoder: output queries attend to the latents, a linear layer gives the class logits.

    :param num_output_queries: number of output queries (the logits come from the first).
    :param num_output_query_channels: width of the output queries.
    :param num_classes: number of classes (the CLI links it from the data module).
    """

    num_output_queries: int = 1
    num_output_query_channels: int = 256
    num_classes: int = 100


E = TypeVar("E", bound=EncoderConfig)
D = TypeVar("D", bound=DecoderConfig)


@dataclass
class PerceiverIOConfig(Generic[E, D]):
    encoder: E
    decoder: D
    num_latents: int
    num_latent_channels: int
    activation_checkpointing: bool = False
    activation_offloading: bool = False


@dataclass
class PerceiverARConfig:
    num_heads: int = 8
    max_heads_parallel: int | None = None
    num_self_attention_layers: int = 8
    num_self_attention_rotary_layers: int = 1
    self_attention_widening_factor: int = 4
    cross_attention_widening_factor: int = 4
    cross_attention_dropout: float = 0.5
    post_attention_dropout: float = 0.0
    residual_dropout: float = 0.0
    activation_checkpointing: bool = False
    activation_offloading: bool = False

    def base_kwargs(self, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        return _base_kwargs(self, PerceiverARConfig, exclude)


@dataclass
class CausalSequenceModelConfig(PerceiverARConfig):
    vocab_size: int = 262
    max_seq_len: int = 4096
    max_latents: int = 512
    num_channels: int = 512
    output_norm: bool = False
    output_bias: bool = True
    abs_pos_emb: bool = True
    init_scale: float = 0.02

    @classmethod
    def create(cls, **kwargs: Any) -> "CausalSequenceModelConfig":
        """Build a config from keyword arguments, ignoring those that are not fields (e.g. Lightning hparams)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in kwargs.items() if k in names})


__all__ = [
    "CausalSequenceModelConfig",
    "ClassificationDecoderConfig",
    "D",
    "DecoderConfig",
    "E",
    "EncoderConfig",
    "PerceiverARConfig",
    "PerceiverIOConfig",
    "default_init_scale",
    "resolve_init_scale",
]
