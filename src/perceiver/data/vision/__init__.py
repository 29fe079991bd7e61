"""Image data modules: the bundled scikit-learn digits (offline), MNIST (hub) and local image folders."""

from perceiver.data.vision.common import ImageDataset, ImageTransform
from perceiver.data.vision.digits import DigitsDataModule
from perceiver.data.vision.image_folder import ImageFolderDataModule
from perceiver.data.vision.mnist import MNISTDataModule, MNISTPreprocessor

__all__ = [
    "DigitsDataModule",
    "ImageDataset",
    "ImageFolderDataModule",
    "ImageTransform",
    "MNISTDataModule",
    "MNISTPreprocessor",
]
