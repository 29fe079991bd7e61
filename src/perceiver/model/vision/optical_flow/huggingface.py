"""Hugging Face wrapper of the optical flow model, its registration (``AutoConfig`` and the ``optical-flow``
pipeline) and conversion of ``transformers``' ``PerceiverForOpticalFlow`` (``deepmind/optical-flow-perceiver``)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoConfig
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.utils import ModelOutput

from perceiver.data.vision.optical_flow import OpticalFlowProcessor, render_optical_flow  # noqa: F401 (0.11 names)
from perceiver.model.core.convert import (  # noqa: F401 (the last two: perceiver-io 0.11 names)
    copy_cross_attention_layer_params,
    copy_encoder_params,
    copy_latent_provider_params,
    copy_params,
    copy_self_attention_block_params,
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
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder
from perceiver.model.vision.optical_flow.backend import (
    OpticalFlow,
    OpticalFlowConfig,
    OpticalFlowDecoderConfig,
    OpticalFlowEncoderConfig,
)
from perceiver.model.vision.optical_flow.pipeline import OpticalFlowPipeline


class OpticalFlowPerceiverConfig(PerceiverIOBackendConfig):
    model_type = "perceiver-io-optical-flow"
    backend_config_class = OpticalFlowConfig

    @classmethod
    def default_backend_config(cls) -> OpticalFlowConfig:
        encoder = OpticalFlowEncoderConfig(
            num_cross_attention_heads=1, num_self_attention_heads=16, num_self_attention_layers_per_block=24
        )
        decoder = OpticalFlowDecoderConfig(
            num_cross_attention_heads=1, num_cross_attention_qk_channels=512, cross_attention_residual=False
        )
        return OpticalFlowConfig(encoder, decoder, num_latents=2048, num_latent_channels=512)


@dataclass
class OpticalFlowPerceiverOutput(ModelOutput):
    logits: torch.Tensor | None = None


class OpticalFlowPerceiver(PerceiverIOPreTrainedModel):
    config_class = OpticalFlowPerceiverConfig
    backend_model_class = OpticalFlow
    main_input_name = "inputs"

    def forward(self, inputs: torch.Tensor, **kwargs: Any) -> OpticalFlowPerceiverOutput:
        """``inputs``: ``(b, 2, 27, h, w)`` patches of frame pairs (see ``OpticalFlowProcessor``); ``logits``: the
        flow ``(b, h, w, 2)`` before the processor's flow scale."""
        if kwargs.get("labels") is not None:
            raise ValueError("Loss computation from labels not supported yet")
        return OpticalFlowPerceiverOutput(logits=self.backend_model(self._in_model_precision(inputs)))


def convert_config(config: transformers.PerceiverConfig) -> OpticalFlowConfig:
    """Backend config equivalent to a ``transformers`` ``PerceiverForOpticalFlow`` config."""
    if not config.use_query_residual:
        raise ValueError("use_query_residual=False in the encoder cross-attention is not supported")
    image_shape = tuple(config.train_size)
    encoder = OpticalFlowEncoderConfig(
        image_shape=image_shape,
        num_patch_input_channels=27,
        num_patch_hidden_channels=64,
        num_frequency_bands=64,
        **hf_encoder_kwargs(config),
    )
    decoder = OpticalFlowDecoderConfig(
        image_shape=image_shape,
        rescale_factor=100.0,
        num_cross_attention_heads=1,
        # the decoder cross-attention projects queries and keys to the latent width
        num_cross_attention_qk_channels=config.d_latents,
        cross_attention_residual=False,
        **hf_decoder_kwargs(config),
    )
    return OpticalFlowConfig(encoder, decoder, **hf_latent_kwargs(config))


def copy_flow_encoder_params(src: torch.nn.Module, tgt: PerceiverEncoder) -> None:
    """The encoder of a ``transformers`` ``PerceiverModel`` for optical flow: latents, attention, patch projection."""
    copy_encoder_params(src, tgt)
    copy_params(src.input_preprocessor.conv_after_patches, tgt.input_adapter.linear)


def copy_flow_decoder_params(src: torch.nn.Module, tgt: PerceiverDecoder) -> None:
    """The flow decoder (no query residual) and its final layer."""
    src_decoder = src.decoder.decoder
    copy_cross_attention_layer_params(src_decoder.decoding_cross_attention, tgt.cross_attn, query_residual=False)
    copy_params(src_decoder.final_layer, tgt.output_adapter.linear)


def copy_optical_flow_params(src: torch.nn.Module, tgt: OpticalFlow) -> None:
    copy_flow_encoder_params(src.perceiver, tgt.encoder)
    copy_flow_decoder_params(src.perceiver, tgt.decoder)


def convert_hf_model(src: torch.nn.Module) -> OpticalFlowPerceiver:
    """Convert an in-memory ``transformers`` ``PerceiverForOpticalFlow``."""
    return converted_model(OpticalFlowPerceiver, convert_config(src.config), src, copy_optical_flow_params)


def convert_model(
    save_dir: str | Path,
    source_repo_id: str = "deepmind/optical-flow-perceiver",
    push_to_hub: bool = False,
    **kwargs: Any,
) -> OpticalFlowPerceiver:
    """Convert the official optical flow model (hub id or local folder) and save it to ``save_dir``."""
    load_source = transformers.PerceiverForOpticalFlow.from_pretrained
    return convert_source_model(save_dir, source_repo_id, load_source, convert_hf_model, push_to_hub, **kwargs)


AutoConfig.register(OpticalFlowPerceiverConfig.model_type, OpticalFlowPerceiverConfig, exist_ok=True)
if "optical-flow" not in PIPELINE_REGISTRY.get_supported_tasks():
    PIPELINE_REGISTRY.register_pipeline(
        "optical-flow", pipeline_class=OpticalFlowPipeline, pt_model=OpticalFlowPerceiver, type="image"
    )
