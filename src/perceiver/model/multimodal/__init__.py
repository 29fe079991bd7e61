"""Multimodal models: the Perceiver IO video + audio + label autoencoder (``autoencoder`` subpackage)."""

from perceiver.model.multimodal import autoencoder
from perceiver.model.multimodal.autoencoder import *  # noqa: F403 (the subpackage's public names, listed once there)

__all__ = autoencoder.__all__
