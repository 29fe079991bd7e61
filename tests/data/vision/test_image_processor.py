import numpy as np
import PIL.Image
import pytest
import skimage.data
import torch
import transformers

from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor, to_pil_image

# transformers 5 names its pillow backend ...Pil; 4.x has only the pillow one
ReferenceProcessor = getattr(transformers, "PerceiverImageProcessorPil", transformers.PerceiverImageProcessor)

# natural RGB images of several sizes and aspect ratios (uint8), shipped with scikit-image
SAMPLE_IMAGES = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina"]


@pytest.fixture(scope="module")
def reference() -> ReferenceProcessor:
    return ReferenceProcessor()


@pytest.mark.parametrize("name", SAMPLE_IMAGES)
def test_matches_transformers_on_natural_images(name, reference):
    image = getattr(skimage.data, name)()
    expected = reference(image, return_tensors="np").pixel_values  # (1, 3, 224, 224)
    actual = PerceiverImageClassifierInputProcessor()(image, return_tensors="np").pixel_values
    assert actual.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(actual, expected.transpose(0, 2, 3, 1), atol=1e-5)


def test_matches_transformers_with_other_sizes_and_pil_input(reference):
    image = PIL.Image.fromarray(skimage.data.coffee())
    kwargs = dict(size={"height": 64, "width": 96}, crop_size={"height": 80, "width": 100})
    expected = ReferenceProcessor(**kwargs)(image, return_tensors="np").pixel_values
    processor = PerceiverImageClassifierInputProcessor(channels_last=False, **kwargs)
    actual = processor([image, np.asarray(image)], return_tensors="pt").pixel_values
    assert actual.shape == (2, 3, 64, 96)
    np.testing.assert_allclose(actual[0].numpy(), expected[0], atol=1e-5)
    np.testing.assert_allclose(actual[1].numpy(), expected[0], atol=1e-5)


def test_input_layouts_agree():
    image = skimage.data.chelsea()
    processor = PerceiverImageClassifierInputProcessor(size=32, crop_size=40)
    expected = processor(image, return_tensors="np").pixel_values
    variants = [
        PIL.Image.fromarray(image),
        torch.from_numpy(image),
        torch.from_numpy(image).permute(2, 0, 1),  # channels first
        image.astype(np.float64) / 255.0,  # floats in [0, 1]
        PIL.Image.fromarray(image).convert("RGBA"),  # alpha is dropped
    ]
    for variant in variants:
        np.testing.assert_allclose(processor(variant, return_tensors="np").pixel_values, expected, atol=1e-6)


def test_batch_array_input():
    images = np.stack([skimage.data.astronaut()[:300, :400], skimage.data.chelsea()[:, :400]])
    processor = PerceiverImageClassifierInputProcessor(size=32, crop_size=40)
    batch = processor(images, return_tensors="np").pixel_values
    assert batch.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(batch[1], processor(images[1], return_tensors="np").pixel_values[0])
    np.testing.assert_array_equal(batch, processor(torch.from_numpy(images), return_tensors="np").pixel_values)


def test_manual_pipeline_order_crop_resize_normalise():
    image = skimage.data.rocket()  # 427 x 640
    processor = PerceiverImageClassifierInputProcessor()
    height, width = int(224 / 256 * 427), int(224 / 256 * 427)
    top, left = (427 - height) // 2, (640 - width) // 2
    crop = PIL.Image.fromarray(image[top : top + height, left : left + width])
    resized = np.asarray(crop.resize((224, 224), PIL.Image.Resampling.BICUBIC), dtype=np.float64) / 255.0
    expected = (resized - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(processor(image, return_tensors="np").pixel_values[0], expected, atol=1e-5)


def test_single_channel_and_greyscale_input():
    grey = skimage.data.camera()  # (512, 512) uint8
    processor = PerceiverImageClassifierInputProcessor(
        single_channel=True, do_center_crop=False, size=28, image_mean=0.5, image_std=0.5
    )
    out = processor(grey, return_tensors="np").pixel_values
    assert out.shape == (1, 28, 28, 1)
    expected = np.asarray(PIL.Image.fromarray(grey).resize((28, 28), PIL.Image.Resampling.BICUBIC)) / 255.0
    np.testing.assert_allclose(out[0, ..., 0], (expected - 0.5) / 0.5, atol=1e-5)
    # a greyscale image for an RGB model is replicated to three channels
    rgb = PerceiverImageClassifierInputProcessor(size=16, crop_size=16)(grey, return_tensors="np").pixel_values
    assert rgb.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(rgb[..., 0] * 0.229 + 0.485, rgb[..., 1] * 0.224 + 0.456, atol=1e-5)


def test_save_and_load(tmp_path):
    processor = PerceiverImageClassifierInputProcessor(size=32, crop_size=40, channels_last=False)
    processor.save_pretrained(tmp_path)
    loaded = PerceiverImageClassifierInputProcessor.from_pretrained(tmp_path)
    assert loaded.size == {"height": 32, "width": 32} and loaded.channels_last is False
    image = skimage.data.astronaut()
    np.testing.assert_array_equal(loaded(image).pixel_values[0], processor(image).pixel_values[0])


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        ("image.png", TypeError, "PIL image, numpy array or torch tensor"),
        (np.zeros((8, 8, 2), dtype=np.uint8), ValueError, "1, 3 or 4 channels"),
        (np.zeros((2, 2, 8, 8, 3), dtype=np.uint8), ValueError, r"shape \(h, w\)"),
        (np.zeros((0, 8, 3), dtype=np.uint8), ValueError, "empty"),
        (np.full((8, 8, 3), 2.0), ValueError, r"outside \[0, 1\]"),
        (np.full((8, 8, 3), 300), ValueError, r"outside \[0, 255\]"),
        (np.zeros((8, 8, 3), dtype=np.complex64), TypeError, "dtype"),
    ],
)
def test_bad_images(image, error, match):
    with pytest.raises(error, match=match):
        PerceiverImageClassifierInputProcessor()([image] if isinstance(image, np.ndarray) else image)
    with pytest.raises(error, match=match):
        to_pil_image(image)


def test_bad_arguments():
    with pytest.raises(ValueError, match="size must"):
        PerceiverImageClassifierInputProcessor(size=(0, 4))
    with pytest.raises(ValueError, match="resample"):
        PerceiverImageClassifierInputProcessor(resample=42)
    processor = PerceiverImageClassifierInputProcessor(do_center_crop=False, do_resize=False)
    with pytest.raises(TypeError, match="unknown preprocess arguments"):
        processor(np.zeros((8, 8, 3), dtype=np.uint8), sizes=3)
    with pytest.raises(ValueError, match="cannot be batched"):
        processor([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], return_tensors="pt")
    with pytest.raises(ValueError, match="image_mean must have 1 or 3 values"):
        PerceiverImageClassifierInputProcessor(image_mean=[0.5, 0.5])(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="must not be empty"):
        processor([])
