"""Perceiver IO optical flow. Importing this package registers ``AutoConfig`` and the ``optical-flow`` pipeline."""

from perceiver.data.vision.optical_flow import OpticalFlowProcessor, render_optical_flow
from perceiver.model.core.utils import lazy_exports, transformers_available
from perceiver.model.vision.optical_flow.backend import (
    OpticalFlow,
    OpticalFlowConfig,
    OpticalFlowDecoderConfig,
    OpticalFlowEncoderConfig,
    OpticalFlowInputAdapter,
    OpticalFlowOutputAdapter,
    OpticalFlowQueryProvider,
)

if transformers_available():
    import perceiver.model.vision.optical_flow.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

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

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "OpticalFlowPerceiver": "perceiver.model.vision.optical_flow.huggingface",
        "OpticalFlowPerceiverConfig": "perceiver.model.vision.optical_flow.huggingface",
        "OpticalFlowPerceiverOutput": "perceiver.model.vision.optical_flow.huggingface",
        "convert_config": "perceiver.model.vision.optical_flow.huggingface",
        "convert_hf_model": "perceiver.model.vision.optical_flow.huggingface",
        "convert_model": "perceiver.model.vision.optical_flow.huggingface",
        "OpticalFlowPipeline": "perceiver.model.vision.optical_flow.pipeline",
    },
)
