"""The encoder and decoder of a Perceiver IO task model, built from its ``PerceiverIOConfig``: the latent sizes,
activation checkpointing and shared attention settings go to the core modules in one place."""

from typing import Any

from perceiver.model.core.adapter import (
    ClassificationOutputAdapter,
    InputAdapter,
    OutputAdapter,
    QueryProvider,
    TrainableQueryProvider,
)
from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder


def perceiver_io_encoder(
    config: PerceiverIOConfig, input_adapter: InputAdapter, qk_channels_of_input: bool = False
) -> PerceiverEncoder:
    """The encoder of ``config`` over ``input_adapter``. With ``qk_channels_of_input`` the input cross-attention's
    query/key channels default to the adapted input's width, as in the official vision and multimodal checkpoints."""
    kwargs = config.encoder.base_kwargs()
    if qk_channels_of_input and kwargs["num_cross_attention_qk_channels"] is None:
        kwargs["num_cross_attention_qk_channels"] = input_adapter.num_input_channels
    return PerceiverEncoder(
        input_adapter=input_adapter,
        num_latents=config.num_latents,
        num_latent_channels=config.num_latent_channels,
        activation_checkpointing=config.activation_checkpointing,
        activation_offloading=config.activation_offloading,
        **kwargs,
    )


def perceiver_io_decoder(
    config: PerceiverIOConfig, output_adapter: OutputAdapter, output_query_provider: QueryProvider
) -> PerceiverDecoder:
    """The decoder of ``config`` from the latents to ``output_adapter``, its queries from ``output_query_provider``."""
    return PerceiverDecoder(
        output_adapter=output_adapter,
        output_query_provider=output_query_provider,
        num_latent_channels=config.num_latent_channels,
        activation_checkpointing=config.activation_checkpointing,
        activation_offloading=config.activation_offloading,
        **config.decoder.base_kwargs(),
    )


def classification_decoder(config: PerceiverIOConfig[Any, ClassificationDecoderConfig]) -> PerceiverDecoder:
    """The decoder of a classifier: ``num_output_queries`` learned queries, each decoded to ``num_classes`` logits
    (the text and image classifiers)."""
    decoder = config.decoder
    # queries first, then the output layer: the order fixes the weights a seeded model starts from
    output_query_provider = TrainableQueryProvider(
        num_queries=decoder.num_output_queries,
        num_query_channels=decoder.num_output_query_channels,
        init_scale=decoder.init_scale,
    )
    output_adapter = ClassificationOutputAdapter(
        num_classes=decoder.num_classes, num_output_query_channels=decoder.num_output_query_channels
    )
    return perceiver_io_decoder(config, output_adapter, output_query_provider)
