"""Digits and image-folder data modules (offline); MNIST needs the hub and is not exercised here."""

import numpy as np
import PIL.Image
import pytest
import torch

from perceiver.data.vision.common import ImageTransform
from perceiver.data.vision.digits import DigitsDataModule, load_digits_arrays
from perceiver.data.vision.image_folder import ImageFolderDataModule
from perceiver.data.vision.mnist import MNISTDataModule, MNISTPreprocessor


def test_digits_batches_and_split():
    dm = DigitsDataModule(batch_size=32, valid_size=0.2)
    dm.setup()
    assert (len(dm.ds_train), len(dm.ds_valid)) == (1437, 360)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (32, 8, 8, 1) and batch["label"].shape == (32,)
    assert batch["image"].min() >= -1 and batch["image"].max() <= 1
    # the validation split is fixed and stratified: every class is held out
    labels = torch.stack([dm.ds_valid[i]["label"] for i in range(len(dm.ds_valid))])
    assert torch.bincount(labels, minlength=10).min() >= 30
    images, targets = load_digits_arrays()
    i = int(np.flatnonzero(targets == int(labels[0]))[0])
    assert images.shape == (1797, 8, 8) and targets[i] == labels[0]


def test_digits_channels_first_unnormalized_and_shift():
    dm = DigitsDataModule(normalize=False, channels_last=False, random_shift=1)
    dm.setup()
    assert dm.image_shape == (1, 8, 8)
    image = dm.ds_train[0]["image"]
    assert image.shape == (1, 8, 8) and image.min() >= 0 and image.max() <= 1
    shifted = {tuple(dm.ds_train[0]["image"].flatten().tolist()) for _ in range(20)}
    assert len(shifted) > 1
    assert len({tuple(dm.ds_valid[0]["image"].flatten().tolist()) for _ in range(3)}) == 1


@pytest.mark.parametrize("kwargs, match", [({"valid_size": 1.5}, "valid_size"), ({"random_shift": -1}, "random_shift")])
def test_digits_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DigitsDataModule(**kwargs)


def test_image_transform():
    image = PIL.Image.fromarray(np.full((10, 12, 3), 255, dtype=np.uint8))
    x = ImageTransform((5, 6, 1))(image)
    assert x.shape == (5, 6, 1) and torch.allclose(x, torch.ones_like(x))
    assert ImageTransform((5, 6, 3), channels_last=False, normalize=False)(image).shape == (3, 5, 6)
    with pytest.raises(ValueError, match="image_shape must be"):
        ImageTransform((5, 6))
    assert MNISTPreprocessor().preprocess_batch([np.zeros((28, 28), dtype=np.uint8)] * 2).shape == (2, 28, 28, 1)
    assert MNISTDataModule().image_shape == (28, 28, 1)


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, value in (("cats", 40), ("dogs", 200)):
        (tmp_path / name).mkdir()
        for i in range(10):
            pixels = np.clip(rng.normal(value, 5, (16, 20, 3)), 0, 255).astype(np.uint8)
            PIL.Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    return tmp_path


def test_image_folder_data_module(image_folder):
    dm = ImageFolderDataModule(str(image_folder), image_shape=(8, 8, 3), valid_size=0.2, batch_size=4)
    dm.setup()
    assert dm.classes == ["cats", "dogs"] and dm.num_classes == 2
    assert (len(dm.ds_train), len(dm.ds_valid)) == (16, 4)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 8, 8, 3)
    dark = batch["image"][batch["label"] == 0]
    bright = batch["image"][batch["label"] == 1]
    assert (dark < 0).all() and (bright > 0).all()


def test_image_folder_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        ImageFolderDataModule(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="has no class sub-folders"):
        ImageFolderDataModule(str(tmp_path))
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="has no images"):
        ImageFolderDataModule(str(tmp_path))
