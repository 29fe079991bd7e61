"""Hugging Face wrapper of the multimodal autoencoder and conversion of ``transformers``'
``PerceiverForMultimodalAutoencoding`` (``deepmind/multimodal-perceiver``)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoConfig, AutoModel
from transformers.utils import ModelOutput

from perceiver.model.core.convert import (
    copy_cross_attention_layer_params,
    copy_encoder_params,
    copy_param,
    copy_params,
    hf_decoder_kwargs,
    hf_encoder_kwargs,
    hf_latent_kwargs,
)
from perceiver.model.core.hf_io import (
    PerceiverIOBackendConfig,
    PerceiverIOPreTrainedModel,
    convert_source_model,
    converted_model,
)
from perceiver.model.multimodal.autoencoder.backend import (
    MODALITIES,
    MultimodalAutoencoder,
    MultimodalAutoencoderConfig,
    MultimodalDecoderConfig,
    MultimodalEncoderConfig,
)


class PerceiverMultimodalAutoencoderConfig(PerceiverIOBackendConfig):
    model_type = "perceiver-io-multimodal-autoencoder"
    backend_config_class = MultimodalAutoencoderConfig

    @classmethod
    def default_backend_config(cls) -> MultimodalAutoencoderConfig:
        encoder = MultimodalEncoderConfig(
            num_cross_attention_heads=1, num_self_attention_heads=8, num_self_attention_layers_per_block=8
        )
        decoder = MultimodalDecoderConfig(num_cross_attention_heads=1, cross_attention_residual=False)
        return MultimodalAutoencoderConfig(encoder, decoder, num_latents=784, num_latent_channels=512)


@dataclass
class PerceiverMultimodalAutoencoderOutput(ModelOutput):
    # a dict as first field would be unpacked by ModelOutput: loss (always None for now) comes first
    loss: torch.Tensor | None = None
    logits: dict[str, torch.Tensor] | None = None


class PerceiverMultimodalAutoencoder(PerceiverIOPreTrainedModel):
    config_class = PerceiverMultimodalAutoencoderConfig
    backend_model_class = MultimodalAutoencoder
    main_input_name = "inputs"

    def forward(
        self,
        inputs: dict[str, torch.Tensor | None],
        subsampled_output_points: dict[str, torch.Tensor | None] | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> PerceiverMultimodalAutoencoderOutput:
        """``inputs``: ``{"image": (b, t, h, w, c), "audio": (b, n), "label": (b, num_classes) or None}``;
        ``logits``: reconstructed ``audio`` and ``image`` and ``label`` logits (see ``MultimodalDecoder``)."""
        if kwargs.get("labels") is not None:
            raise ValueError("Loss computation from labels not supported yet")
        logits = self.backend_model(inputs, output_points=subsampled_output_points, chunk_size=chunk_size)
        return PerceiverMultimodalAutoencoderOutput(logits=logits)


def convert_config(config: transformers.PerceiverConfig) -> MultimodalAutoencoderConfig:
    """Backend config equivalent to a ``transformers`` ``PerceiverForMultimodalAutoencoding`` config."""
    if not config.use_query_residual:
        raise ValueError("use_query_residual=False in the encoder cross-attention is not supported")
    video_shape = (config.num_frames, config.image_size, config.image_size)
    if tuple(config.output_shape[1:]) != video_shape:
        raise ValueError(
            f"output_shape[1:] = {tuple(config.output_shape[1:])} must equal (num_frames, image_size, image_size) "
            f"= {video_shape}"
        )
    encoder = MultimodalEncoderConfig(
        num_frames=config.num_frames,
        image_shape=(config.image_size, config.image_size, 3),
        image_patch_size=4,
        image_temporal_patch_size=1,
        num_image_frequency_bands=32,
        audio_samples_per_frame=config.audio_samples_per_frame,
        audio_samples_per_patch=config.samples_per_patch,
        num_audio_frequency_bands=192,
        num_classes=config.num_labels,
        min_padding_size=4,
        audio_mask_prob=0.0,
        image_mask_prob=0.0,
        label_mask_prob=1.0,
        **hf_encoder_kwargs(config),
    )
    decoder = MultimodalDecoderConfig(
        num_output_channels=config.output_num_channels,
        num_label_query_channels=config._label_trainable_num_channels,
        min_padding_size=2,
        num_cross_attention_heads=1,
        num_cross_attention_qk_channels=config.d_latents,
        cross_attention_residual=False,
        **hf_decoder_kwargs(config),
    )
    return MultimodalAutoencoderConfig(encoder, decoder, **hf_latent_kwargs(config))


def copy_multimodal_autoencoder_params(src: torch.nn.Module, tgt: MultimodalAutoencoder) -> None:
    perceiver = src.perceiver
    copy_encoder_params(perceiver, tgt.encoder)
    adapter = tgt.encoder.input_adapter
    for modality in MODALITIES:
        copy_param(perceiver.input_preprocessor.padding[modality], adapter.padding[modality], f"padding.{modality}")
        copy_param(perceiver.input_preprocessor.mask[modality], adapter.mask[modality], f"mask.{modality}")

    decoder, src_decoder = tgt.decoder, perceiver.decoder
    queries = decoder.output_query_provider
    for modality in MODALITIES:
        copy_param(src_decoder.padding[modality], queries.padding[modality], f"decoder padding.{modality}")
    label_query = src_decoder.modalities["label"].decoder.output_position_encodings.position_embeddings
    copy_param(label_query, queries.label_query, "label query")
    copy_cross_attention_layer_params(
        src_decoder.decoder.decoding_cross_attention, decoder.cross_attn, query_residual=False
    )
    copy_params(src_decoder.decoder.final_layer, decoder.output_adapter.linear)
    for modality in MODALITIES:
        src_head = perceiver.output_postprocessor.modalities[modality].classifier
        copy_params(src_head, decoder.output_adapter.heads[modality])


def convert_hf_model(src: torch.nn.Module) -> PerceiverMultimodalAutoencoder:
    """Convert an in-memory ``transformers`` ``PerceiverForMultimodalAutoencoding``."""
    return converted_model(
        PerceiverMultimodalAutoencoder,
        convert_config(src.config),
        src,
        copy_multimodal_autoencoder_params,
        source_labels=True,
    )


def convert_model(
    save_dir: str | Path,
    source_repo_id: str = "deepmind/multimodal-perceiver",
    push_to_hub: bool = False,
    **kwargs: Any,
) -> PerceiverMultimodalAutoencoder:
    """Convert the official multimodal autoencoder (hub id or local folder) and save it to ``save_dir``."""
    load_source = transformers.PerceiverForMultimodalAutoencoding.from_pretrained
    return convert_source_model(save_dir, source_repo_id, load_source, convert_hf_model, push_to_hub, **kwargs)


AutoConfig.register(
    PerceiverMultimodalAutoencoderConfig.model_type, PerceiverMultimodalAutoencoderConfig, exist_ok=True
)
AutoModel.register(PerceiverMultimodalAutoencoderConfig, PerceiverMultimodalAutoencoder, exist_ok=True)
