"""ImageFolderDataModule: test splits, class names, the saved image processor and unreadable files."""

import numpy as np
import PIL.Image
import pytest
import torch

from perceiver.data.vision import DigitsDataModule, ImageFolderDataModule, ImageTransform


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
            PIL.Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


def test_test_split_held_out_or_from_a_folder(image_folder, tmp_path):
    dm = ImageFolderDataModule(str(image_folder), image_shape=(8, 8, 3), valid_size=0.2, test_size=0.1, batch_size=4)
    dm.setup()
    assert (len(dm.ds_train), len(dm.ds_valid), len(dm.ds_test)) == (14, 4, 2)
    paths = [e["image"] for e in dm.train_examples + dm.valid_examples + dm.test_examples]
    assert len(set(paths)) == 20  # disjoint
    batch = next(iter(dm.test_dataloader()))
    assert batch["image"].shape == (2, 8, 8, 3)

    from_folder = ImageFolderDataModule(str(image_folder), image_shape=(8, 8, 3), test_dir=str(image_folder))
    from_folder.setup()
    assert len(from_folder.ds_test) == 20 and from_folder.label_names == ["cats", "dogs"]


def test_no_test_split_names_the_options(image_folder):
    dm = ImageFolderDataModule(str(image_folder), image_shape=(8, 8, 3))
    dm.setup()
    with pytest.raises(ValueError, match="has no test split: give test_dir=.* or test_size="):
        dm.test_dataloader()
    with pytest.raises(ValueError, match="give test_dir or test_size, not both"):
        ImageFolderDataModule(str(image_folder), test_dir=str(image_folder), test_size=0.1)
    with pytest.raises(ValueError, match=r"test_size must be in \(0, 1\), got 2"):
        ImageFolderDataModule(str(image_folder), test_size=2)


@pytest.mark.parametrize("image_shape", [(8, 8, 3), (6, 10, 1)])
def test_image_processor_gives_the_validation_pixels(image_folder, image_shape):
    dm = ImageFolderDataModule(str(image_folder), image_shape=image_shape)
    dm.setup()
    processor = dm.image_processor()
    for i, example in enumerate(dm.valid_examples):
        pixels = processor(PIL.Image.open(example["image"]), return_tensors="pt")["pixel_values"][0]
        assert torch.equal(pixels, dm.ds_valid[i]["image"])


def test_random_crop_pads_black_before_normalisation():
    white = PIL.Image.fromarray(np.full((4, 4, 3), 255, dtype=np.uint8))
    torch.manual_seed(1)
    cropped = ImageTransform((4, 4, 3), normalize=True, random_crop=2)(white)
    assert set(cropped.unique().tolist()) <= {-1.0, 1.0} and (cropped == -1.0).any()


def test_unreadable_image_names_the_file(image_folder):
    broken = image_folder / "cats" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    dm = ImageFolderDataModule(str(image_folder), image_shape=(8, 8, 3), valid_dir=str(image_folder))
    dm.setup()
    index = next(i for i, e in enumerate(dm.valid_examples) if e["image"] == str(broken))
    with pytest.raises(ValueError, match=r"cannot read image file .*cats/broken\.png"):
        dm.ds_valid[index]


def test_digits_label_names_and_processor():
    dm = DigitsDataModule()
    assert dm.label_names == [str(i) for i in range(10)]
    digit = np.zeros((8, 8), dtype=np.uint8)
    assert dm.image_processor()(digit, return_tensors="pt")["pixel_values"].shape == (1, 8, 8, 1)
