"""Aliases kept for code written against perceiver-io 0.11."""

from perceiver.model.core.adapter import ClassificationOutputAdapter
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder

ClassificationDecoder = PerceiverDecoder

__all__ = ["ClassificationDecoder", "ClassificationDecoderConfig", "ClassificationOutputAdapter"]
