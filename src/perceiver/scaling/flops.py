"""FLOPs of one training step of the library's models, computed from their configs.

Counted are the matrix products of the forward pass as the models compute them: ``2 * m * n * k`` for every linear
layer, matmul and attention product (full score matrices: causal and padding masks save nothing), times 3 for the
forward and backward pass. Element-wise work (normalisation, softmax, activations, rotary embedding) and embedding
look-ups are left out, as is usual. The models' shortcuts are taken into account: learned latents and output queries
are projected once per batch, not once per example, and position channels that an image input shares across the
batch are projected once per position (with key/value heads padded to multiples of 8, as that path does in fp32).
Zero padding of head dims that some attention kernels add on the GPU is not counted.
"""

from dataclasses import dataclass

from perceiver.model.core.config import (
    CausalSequenceModelConfig,
    ClassificationDecoderConfig,
    DecoderConfig,
    EncoderConfig,
    PerceiverIOConfig,
)
from perceiver.model.core.utils import require_positive
from perceiver.model.text.common.backend import TextEncoderConfig
from perceiver.model.text.mlm.backend import TextDecoderConfig
from perceiver.model.vision.image_classifier.backend import ImageEncoderConfig, pooled_size
from perceiver.scaling.estimator import _require_prefix_dropout

SUPPORTED_CONFIGS = (
    "CausalSequenceModelConfig (causal language model, symbolic audio model), "
    "PerceiverIOConfig[TextEncoderConfig, TextDecoderConfig] (masked language model), "
    "PerceiverIOConfig[TextEncoderConfig, ClassificationDecoderConfig] (text classifier), "
    "PerceiverIOConfig[ImageEncoderConfig, ClassificationDecoderConfig] (image classifier)"
)


def linear_flops(rows: int, in_features: int, out_features: int) -> int:
    """A linear layer (or matmul) over ``rows`` inputs."""
    return 2 * rows * in_features * out_features


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass
class _KeyValues:
    """FLOPs of a layer's key and value projections and the head widths its attention then runs at."""

    flops: int
    qk_channels: int
    v_channels: int


def _dense_key_values(rows: int, in_channels: int, qk_channels: int, v_channels: int) -> _KeyValues:
    flops = linear_flops(rows, in_channels, qk_channels) + linear_flops(rows, in_channels, v_channels)
    return _KeyValues(flops, qk_channels, v_channels)


def _split_key_values(
    batch: int, positions: int, per_example: int, shared: int, qk_channels: int, v_channels: int, heads: int
) -> _KeyValues:
    """Keys and values of an input whose ``shared`` channels are the same for the whole batch: the per-example
    channels (plus one for the LayerNorm mean) are projected per example, the shared ones once per position, and
    each head comes out padded to a multiple of 8 channels."""
    padded = [heads * _round_up(channels // heads, 8) for channels in (qk_channels, v_channels)]
    flops = 0
    for out, out_padded in zip((qk_channels, v_channels), padded):
        flops += linear_flops(batch * positions, per_example + 1, out_padded)
        flops += linear_flops(positions, shared, out)
        flops += linear_flops(1, shared, out) + linear_flops(1, per_example + shared, out)  # gain and bias terms
    return _KeyValues(flops, *padded)


def _attention_layer(
    batch: int,
    num_queries: int,
    num_keys: int,
    query_channels: int,
    qk_channels: int,
    v_channels: int,
    widening_factor: int,
    key_values: _KeyValues,
    queries_shared: bool = False,
) -> int:
    """An attention layer and its MLP; ``queries_shared``: the queries are the same for every example (learned
    latents or output queries), so their projection runs once per batch."""
    query_rows = num_queries if queries_shared else batch * num_queries
    rows = batch * num_queries
    attend = 2 * rows * num_keys * (key_values.qk_channels + key_values.v_channels)
    return (
        linear_flops(query_rows, query_channels, qk_channels)
        + key_values.flops
        + attend
        + linear_flops(rows, v_channels, query_channels)
        + 2 * linear_flops(rows, query_channels, widening_factor * query_channels)
    )


def _self_attention_layers(
    batch: int, length: int, channels: int, qk: int | None, v: int | None, widening_factor: int, num_layers: int
) -> int:
    qk = qk or channels
    v = v or qk
    key_values = _dense_key_values(batch * length, channels, qk, v)
    return num_layers * _attention_layer(batch, length, length, channels, qk, v, widening_factor, key_values)


def perceiver_ar_forward_flops(
    config: CausalSequenceModelConfig, batch_size: int, seq_len: int, num_latents: int, prefix_dropout: float
) -> int:
    """Forward FLOPs of a Perceiver AR training step: ``num_latents`` latents attend to themselves and to the
    ``seq_len - num_latents`` prefix positions that prefix dropout keeps, then pass the self-attention layers and
    the output projection to the vocabulary."""
    c = config.num_channels
    num_prefix = seq_len - num_latents
    kept = num_prefix - int(num_prefix * prefix_dropout)
    num_keys = kept + num_latents
    hybrid = _attention_layer(
        batch_size, num_latents, num_keys, c, c, c, config.cross_attention_widening_factor,
        _dense_key_values(batch_size * num_keys, c, c, c),
    )  # fmt: skip
    self_attention = _self_attention_layers(
        batch_size, num_latents, c, None, None, config.self_attention_widening_factor, config.num_self_attention_layers
    )
    logits = linear_flops(batch_size * num_latents, c, config.vocab_size)
    return hybrid + self_attention + logits


@dataclass
class _Input:
    """What an encoder cross-attends to: ``positions`` per example, ``channels`` wide, of which ``shared`` are the
    same for the batch (0: none); ``flops`` spent by the input adapter."""

    positions: int
    channels: int
    shared: int = 0
    flops: int = 0


def _image_input(encoder: ImageEncoderConfig, batch: int) -> _Input:
    from perceiver.model.core.position import FourierPositionEncoding

    height, width, channels = encoder.image_shape
    kind = encoder.input_adapter_type
    if kind == "fourier":
        fourier = FourierPositionEncoding((height, width), encoder.num_frequency_bands).num_position_encoding_channels()
        return _Input(height * width, channels + fourier, shared=fourier)
    if kind == "learned":
        conv = encoder.num_conv_channels or 256
        pos = encoder.num_position_channels
        positions = height * width
        flops = linear_flops(batch * positions, channels, conv) + linear_flops(positions, pos, pos)
        return _Input(positions, conv + pos, shared=pos, flops=flops)
    if kind == "conv":
        conv = encoder.num_conv_channels or 64
        grid = (pooled_size(height), pooled_size(width))
        fourier = FourierPositionEncoding(grid, encoder.num_frequency_bands).num_position_encoding_channels()
        conv_positions = ((height - 1) // 2 + 1) * ((width - 1) // 2 + 1)  # 7x7 stride 2 with 3 pixels of padding
        flops = 2 * batch * conv_positions * conv * channels * 7 * 7
        return _Input(grid[0] * grid[1], conv + fourier, shared=fourier, flops=flops)
    raise ValueError(f"encoder.input_adapter_type must be one of 'fourier', 'learned', 'conv', got {kind!r}")


def _encoder_forward_flops(
    encoder: EncoderConfig, num_latents: int, num_latent_channels: int, batch: int, inputs: _Input, cross_qk: int
) -> int:
    """Perceiver IO encoder: learned latents cross-attend to the input, then blocks of self-attention, with a
    cross-attention before each of the first ``num_cross_attention_layers`` blocks."""
    qk = encoder.num_cross_attention_qk_channels or cross_qk
    v = encoder.num_cross_attention_v_channels or qk
    if inputs.shared:
        per_example = inputs.channels - inputs.shared
        heads = encoder.num_cross_attention_heads
        key_values = _split_key_values(batch, inputs.positions, per_example, inputs.shared, qk, v, heads)
    else:
        key_values = _dense_key_values(batch * inputs.positions, inputs.channels, qk, v)

    def cross_attention(queries_shared: bool) -> int:
        return _attention_layer(
            batch, num_latents, inputs.positions, num_latent_channels, qk, v,
            encoder.cross_attention_widening_factor, key_values, queries_shared=queries_shared,
        )  # fmt: skip

    block = _self_attention_layers(
        batch, num_latents, num_latent_channels, encoder.num_self_attention_qk_channels,
        encoder.num_self_attention_v_channels, encoder.self_attention_widening_factor,
        encoder.num_self_attention_layers_per_block,
    )  # fmt: skip
    flops = inputs.flops + cross_attention(queries_shared=True) + block
    for i in range(1, encoder.num_self_attention_blocks):
        if i < encoder.num_cross_attention_layers:
            flops += cross_attention(queries_shared=False)
        flops += block
    return flops


def _decoder_forward_flops(
    decoder: DecoderConfig, num_latents: int, num_latent_channels: int, batch: int, queries: int, query_channels: int
) -> int:
    """Perceiver IO decoder: ``queries`` learned output queries (shared by the batch) cross-attend to the latents."""
    qk = decoder.num_cross_attention_qk_channels or query_channels
    v = decoder.num_cross_attention_v_channels or qk
    key_values = _dense_key_values(batch * num_latents, num_latent_channels, qk, v)
    return _attention_layer(
        batch, queries, num_latents, query_channels, qk, v, decoder.cross_attention_widening_factor, key_values,
        queries_shared=True,
    )  # fmt: skip


def perceiver_io_forward_flops(config: PerceiverIOConfig, batch_size: int, seq_len: int | None = None) -> int:
    """Forward FLOPs of a Perceiver IO model (masked LM and text classifier: over ``seq_len`` tokens, default the
    encoder's ``max_seq_len``; image classifier: over ``encoder.image_shape``)."""
    encoder, decoder = config.encoder, config.decoder
    n, c = config.num_latents, config.num_latent_channels
    if isinstance(encoder, ImageEncoderConfig):
        if seq_len is not None:
            raise ValueError(f"seq_len must be None for an image classifier (its input is encoder.image_shape), "
                             f"got {seq_len!r}")  # fmt: skip
        inputs = _image_input(encoder, batch_size)
        flops = _encoder_forward_flops(encoder, n, c, batch_size, inputs, cross_qk=inputs.channels)
    else:
        seq_len = encoder.max_seq_len if seq_len is None else seq_len
        require_positive(seq_len=seq_len)
        if seq_len > encoder.max_seq_len:
            raise ValueError(f"seq_len ({seq_len}) must be <= encoder.max_seq_len ({encoder.max_seq_len})")
        inputs = _Input(seq_len, encoder.num_input_channels)
        flops = _encoder_forward_flops(encoder, n, c, batch_size, inputs, cross_qk=c)

    if isinstance(decoder, TextDecoderConfig):  # one output query per input position, then token logits
        query_channels = decoder.num_output_query_channels or encoder.num_input_channels
        flops += _decoder_forward_flops(decoder, n, c, batch_size, seq_len, query_channels)
        return flops + linear_flops(batch_size * seq_len, query_channels, decoder.vocab_size)
    query_channels, queries = decoder.num_output_query_channels, decoder.num_output_queries
    flops += _decoder_forward_flops(decoder, n, c, batch_size, queries, query_channels)
    return flops + linear_flops(batch_size * queries, query_channels, decoder.num_classes)


def training_flops(
    config: CausalSequenceModelConfig | PerceiverIOConfig,
    batch_size: int,
    seq_len: int | None = None,
    num_latents: int | None = None,
    prefix_dropout: float | None = None,
) -> int:
    """FLOPs of one training step (forward and backward: 3 x forward) on a batch of ``batch_size`` examples.

    :param config: a Perceiver AR config (``CausalSequenceModelConfig``, e.g. ``CausalLanguageModelConfig``) or the
        ``PerceiverIOConfig`` of a masked LM, text classifier or image classifier.
    :param seq_len: training sequence length (default: ``max_seq_len`` of the config); not for image classifiers.
    :param num_latents: Perceiver AR latents (default ``max_latents``, as in training).
    :param prefix_dropout: Perceiver AR prefix dropout (default ``cross_attention_dropout`` of the config).
    """
    return 3 * _forward_flops(config, batch_size, seq_len, num_latents, prefix_dropout)


def _forward_flops(
    config: CausalSequenceModelConfig | PerceiverIOConfig,
    batch_size: int,
    seq_len: int | None,
    num_latents: int | None,
    prefix_dropout: float | None,
) -> int:
    require_positive(batch_size=batch_size)
    if isinstance(config, CausalSequenceModelConfig):
        seq_len = config.max_seq_len if seq_len is None else seq_len
        num_latents = config.max_latents if num_latents is None else num_latents
        prefix_dropout = config.cross_attention_dropout if prefix_dropout is None else prefix_dropout
        require_positive(seq_len=seq_len, num_latents=num_latents)
        _require_prefix_dropout(prefix_dropout)
        if seq_len > config.max_seq_len:
            raise ValueError(f"seq_len ({seq_len}) must be <= max_seq_len ({config.max_seq_len})")
        if num_latents > seq_len:
            raise ValueError(f"num_latents ({num_latents}) must be <= seq_len ({seq_len})")
        return perceiver_ar_forward_flops(config, batch_size, seq_len, num_latents, prefix_dropout)

    if isinstance(config, PerceiverIOConfig) and _supported_io(config):
        for name, value in (("num_latents", num_latents), ("prefix_dropout", prefix_dropout)):
            if value is not None:
                raise ValueError(f"{name} applies to Perceiver AR configs only; a PerceiverIOConfig has "
                                 f"num_latents={config.num_latents} in itself, got {name}={value!r}")  # fmt: skip
        return perceiver_io_forward_flops(config, batch_size, seq_len)
    raise TypeError(f"config must be one of {SUPPORTED_CONFIGS}, got {_describe(config)}")


def _supported_io(config: PerceiverIOConfig) -> bool:
    encoder, decoder = config.encoder, config.decoder
    if isinstance(encoder, ImageEncoderConfig):
        return isinstance(decoder, ClassificationDecoderConfig)
    return isinstance(encoder, TextEncoderConfig) and isinstance(
        decoder, TextDecoderConfig | ClassificationDecoderConfig
    )


def _describe(config: object) -> str:
    if isinstance(config, PerceiverIOConfig):
        return f"PerceiverIOConfig[{type(config.encoder).__name__}, {type(config.decoder).__name__}]"
    return type(config).__name__
