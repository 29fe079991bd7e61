"""Perceiver IO optical flow. Importing this package registers ``AutoConfig`` and the ``optical-flow`` pipeline."""

from perceiver.data.vision.optical_flow import OpticalFlowProcessor, render_optical_flow
from perceiver.model.vision.optical_flow.backend import (
    OpticalFlow,
    OpticalFlowConfig,
    OpticalFlowDecoderConfig,
    OpticalFlowEncoderConfig,
    OpticalFlowInputAdapter,
    OpticalFlowOutputAdapter,
    OpticalFlowQueryProvider,
)
from perceiver.model.vision.optical_flow.huggingface import (
    OpticalFlowPerceiver,
    OpticalFlowPerceiverConfig,
    OpticalFlowPerceiverOutput,
    convert_config,
    convert_hf_model,
    convert_model,
)
from perceiver.model.vision.optical_flow.pipeline import OpticalFlowPipeline

__all__ = [
    "OpticalFlow",
    "OpticalFlowConfig",
    "OpticalFlowDecoderConfig",
    "OpticalFlowEncoderConfig",
    "OpticalFlowInputAdapter",
    "OpticalFlowOutputAdapter",
    "OpticalFlowPerceiver",
    "OpticalFlowPerceiverConfig",
    "OpticalFlowPerceiverOutput",
    "OpticalFlowPipeline",
    "OpticalFlowProcessor",
    "OpticalFlowQueryProvider",
    "convert_config",
    "convert_hf_model",
    "convert_model",
    "render_optical_flow",
]
