import json
import math
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
import transformers
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification, pipeline

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.huggingface import perceiver_io_config_from_dict
from perceiver.model.core.position import FourierPositionEncoding
from perceiver.model.vision.image_classifier import (
    ConvImageInputAdapter,
    ImageClassifier,
    ImageClassifierConfig,
    ImageEncoderConfig,
    ImageInputAdapter,
    LearnedImageInputAdapter,
    PerceiverImageClassifier,
    PerceiverImageClassifierConfig,
    PerceiverImageClassifierInputProcessor,
    convert_config,
    convert_hf_model,
    convert_model,
)
from perceiver.model.vision.image_classifier.backend import pooled_size
from tests.model.vision.helpers import SOURCE_IMAGE_SIZES, image_classifier_source, perceiver_config

# transformers 5 names its pillow backend ...Pil; 4.x has only the pillow one
ReferenceProcessor = getattr(transformers, "PerceiverImageProcessorPil", transformers.PerceiverImageProcessor)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "image_classifier"


def assert_close(actual, expected, tol=1e-5):
    torch.testing.assert_close(actual, expected, atol=tol, rtol=tol)


def fixture_config() -> ImageClassifierConfig:
    data = json.loads((FIXTURES / "config.json").read_text())
    return perceiver_io_config_from_dict(data, ImageEncoderConfig, ClassificationDecoderConfig)


def tiny_config(**encoder_kwargs) -> ImageClassifierConfig:
    encoder = ImageEncoderConfig(
        **(dict(image_shape=(8, 8, 3), num_frequency_bands=4, num_cross_attention_heads=1) | encoder_kwargs),
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
    )
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=16, num_cross_attention_heads=1)
    return ImageClassifierConfig(encoder, decoder, num_latents=4, num_latent_channels=16)


# --- reference fixtures -------------------------------------------------------------------------------------------


def test_fixture_backend_reproduces_logits():
    model = ImageClassifier(fixture_config()).eval()
    state_dict = torch.load(FIXTURES / "backend_state_dict.pt")
    # our Fourier features equal the reference's saved buffer before loading it
    key = "0.input_adapter.position_encoding.position_encoding"
    assert_close(model.state_dict()[key], state_dict[key], tol=1e-6)
    model.load_state_dict(state_dict)
    io = torch.load(FIXTURES / "io.pt")
    with torch.no_grad():
        assert_close(model(io["inputs"]), io["logits"])
    assert sum(p.numel() for p in model.parameters()) == 27637


def test_fixture_hf_folder_loads_and_reproduces_logits(tmp_path):
    io = torch.load(FIXTURES / "io.pt")
    model = AutoModelForImageClassification.from_pretrained(FIXTURES / "hf").eval()
    assert isinstance(model, PerceiverImageClassifier)
    assert model.config.backend_config.encoder.image_shape == (16, 16, 3)
    with torch.no_grad():
        assert_close(model(io["inputs"]).logits, io["hf_logits"])
        assert_close(model(pixel_values=io["inputs"]).logits, io["hf_logits"])
    model.save_pretrained(tmp_path)
    reloaded = PerceiverImageClassifier.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert_close(reloaded(io["inputs"]).logits, io["hf_logits"])


# --- conversion of transformers' image classifiers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "official_size"),
    [
        ("fourier", False),
        ("learned", False),
        ("conv", False),
        pytest.param("fourier", True, marks=pytest.mark.slow),
        pytest.param("conv", True, marks=pytest.mark.slow),
    ],
)
def test_convert_matches_transformers(kind, official_size, tmp_path):
    src = image_classifier_source(kind, official_size=official_size)
    size = 224 if official_size else SOURCE_IMAGE_SIZES[kind]
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected = src(inputs=x).logits
    assert expected.abs().max() > 0.1  # a test that could fail

    tgt = convert_hf_model(src)
    assert tgt.config.backend_config.encoder.input_adapter_type == kind
    x_last = x.permute(0, 2, 3, 1)
    with torch.no_grad():
        assert_close(tgt.backend_model(x_last), expected)
        assert_close(tgt(pixel_values=x_last).logits, expected)
    tgt.save_pretrained(tmp_path)
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert_close(reloaded(pixel_values=x_last).logits, expected)


def test_convert_model_from_local_folder(tmp_path):
    src = image_classifier_source("learned")
    src.config.id2label = {i: f"class {i}" for i in range(5)}
    src.config.label2id = {v: k for k, v in src.config.id2label.items()}
    src.save_pretrained(tmp_path / "src")
    ReferenceProcessor(size={"height": 12, "width": 12}).save_pretrained(tmp_path / "src")

    convert_model(tmp_path / "dst", source_repo_id=str(tmp_path / "src"))
    model = AutoModelForImageClassification.from_pretrained(tmp_path / "dst").eval()
    processor = AutoImageProcessor.from_pretrained(tmp_path / "dst")
    assert isinstance(processor, PerceiverImageClassifierInputProcessor)
    assert processor.channels_last and processor.size == {"height": 12, "width": 12}
    assert model.config.id2label[3] == "class 3"

    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        assert_close(model(pixel_values=x.permute(0, 2, 3, 1)).logits, src(inputs=x).logits)


def test_official_fourier_configuration_parameter_count():
    config = perceiver_config(
        num_latents=512,
        d_latents=1024,
        d_model=261,
        num_blocks=8,
        num_self_attends_per_block=6,
        num_self_attention_heads=8,
        num_labels=1000,
        architectures=["PerceiverForImageClassificationFourier"],
    )
    backend_config = convert_config(config)
    with torch.device("meta"):
        model = ImageClassifier(backend_config)
    assert model.encoder.input_adapter.num_input_channels == 261
    assert sum(p.numel() for p in model.parameters()) == 48_440_627
    # the wrapper's default configuration is the official one
    with torch.device("meta"):
        default = ImageClassifier(PerceiverImageClassifierConfig().backend_config)
    assert sum(p.numel() for p in default.parameters()) == 48_440_627


@pytest.mark.parametrize(("kind", "channels"), [("learned", 512), ("conv", 322)])
def test_official_adapter_widths(kind, channels):
    config = perceiver_config(d_latents=1024, image_size=224, architectures=[None])
    with torch.device("meta"):
        model = ImageClassifier(convert_config(config, kind))
    assert model.encoder.input_adapter.num_input_channels == channels


def test_convert_config_rejects_unknown_architecture():
    with pytest.raises(ValueError, match="architectures"):
        convert_config(perceiver_config(architectures=["PerceiverForMaskedLM"]))


# --- HF wrapper and pipeline ---------------------------------------------------------------------------------------


def test_pipeline_image_classification_equals_manual_forward():
    torch.manual_seed(1)
    config = PerceiverImageClassifierConfig(tiny_config(), id2label={0: "cat", 1: "dog", 2: "bird"})
    model = PerceiverImageClassifier(config).eval()
    processor = PerceiverImageClassifierInputProcessor(size=8, crop_size=9)
    image = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8))

    classifier = pipeline("image-classification", model=model, image_processor=processor)
    result = classifier(image, top_k=3)

    with torch.no_grad():
        probs = model(**processor(image, return_tensors="pt")).logits.softmax(-1)[0]
    expected = sorted(zip(probs.tolist(), ["cat", "dog", "bird"]), reverse=True)
    assert [r["label"] for r in result] == [label for _, label in expected]
    np.testing.assert_allclose([r["score"] for r in result], [p for p, _ in expected], atol=1e-6)


def test_hf_config_defaults_and_labels():
    config = PerceiverImageClassifierConfig(tiny_config())
    assert config.num_labels == 3 and config.id2label[2] == "LABEL_2"
    assert isinstance(AutoConfig.for_model("perceiver-io-image-classifier"), PerceiverImageClassifierConfig)


def test_hf_wrapper_loss_and_input_errors():
    model = PerceiverImageClassifier(PerceiverImageClassifierConfig(tiny_config())).eval()
    x = torch.randn(2, 8, 8, 3)
    labels = torch.tensor([0, 2])
    output = model(pixel_values=x, labels=labels)
    assert_close(output.loss, torch.nn.functional.cross_entropy(output.logits, labels))
    with pytest.raises(ValueError, match="inputs or pixel_values"):
        model()
    with pytest.raises(ValueError, match="not both"):
        model(inputs=x, pixel_values=x)


# --- adapters and bad input ---------------------------------------------------------------------------------------


def test_image_input_adapter_layout():
    adapter = ImageInputAdapter((4, 5, 3), num_frequency_bands=2)
    assert adapter.num_input_channels == 3 + 2 * (2 * 2 + 1)
    x = torch.randn(2, 4, 5, 3)
    out = adapter(x)
    assert out.shape == (2, 20, adapter.num_input_channels)
    assert_close(out[:, :, :3], x.reshape(2, 20, 3))  # pixels first, row-major
    assert_close(out[0, :, 3:5], torch.stack(torch.meshgrid(torch.linspace(-1, 1, 4), torch.linspace(-1, 1, 5),
                                                           indexing="ij"), -1).reshape(20, 2))  # fmt: skip


def test_conv_adapter_grid_and_max_resolution():
    assert pooled_size(224) == 55  # as transformers' conv preprocessing: 224 -> 112 -> 55
    assert (pooled_size(5), pooled_size(4)) == (1, 0)
    adapter = ConvImageInputAdapter((224, 224, 3), num_conv_channels=8, num_frequency_bands=3).eval()
    assert adapter.position_encoding.position_encoding.shape == (55 * 55, 2 * (2 * 3 + 1))
    assert adapter(torch.randn(1, 224, 224, 3)).shape == (1, 55 * 55, 8 + 14)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.randn(2, 8, 8, 1), ValueError, r"Input vision shape \(8, 8, 1\) different from required shape"),
        (torch.randn(2, 9, 7, 4), ValueError, r"\(batch_size, height, width, 3\), channels last"),
        (torch.randn(2, 3, 8, 8), ValueError, "channels last"),
        (torch.randn(8, 8, 3), ValueError, "Input vision shape"),
        (torch.randn(2, 0, 8, 3), ValueError, "Input vision shape"),
        (torch.zeros(2, 8, 8, 3, dtype=torch.long), TypeError, "floating point"),
        (np.zeros((2, 8, 8, 3), dtype=np.float32), TypeError, "must be a tensor"),
    ],
)
@pytest.mark.parametrize("kind", ["fourier", "learned", "conv"])
def test_bad_image_input(kind, x, error, match):
    model = ImageClassifier(tiny_config(input_adapter_type=kind, num_conv_channels=4)).eval()
    with pytest.raises(error, match=match):
        model(x)


def test_bad_config():
    with pytest.raises(ValueError, match="input_adapter_type must be one of"):
        ImageClassifier(tiny_config(input_adapter_type="patches"))
    with pytest.raises(ValueError, match="image_shape must be"):
        ImageInputAdapter((8, 8), num_frequency_bands=4)
    with pytest.raises(ValueError, match="num_frequency_bands must be > 0"):
        ImageInputAdapter((8, 8, 3), num_frequency_bands=0)
    with pytest.raises(ValueError, match="at least 5x5"):
        ConvImageInputAdapter((4, 8, 3))  # 4 -> 2 -> an empty grid after pooling
    with pytest.raises(ValueError, match="num_conv_channels must be > 0"):
        ImageClassifier(tiny_config(input_adapter_type="learned", num_conv_channels=0))
    with pytest.raises(ValueError, match="num_position_channels must be > 0"):
        LearnedImageInputAdapter((8, 8, 3), num_position_channels=0)


# --- any image size, as the source models -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted_pairs() -> dict[str, tuple[torch.nn.Module, PerceiverImageClassifier]]:
    """Small sources (rebuilt for small images, see helpers) and their conversions; the Fourier and conv sources also
    with the official frequencies (``max_resolution`` 224 and 56, 64 bands)."""
    torch.manual_seed(0)
    pairs = {}
    for kind, official_size in [("fourier", False), ("learned", False), ("conv", False), ("fourier", True),
                                ("conv", True)]:  # fmt: skip
        src = image_classifier_source(kind, official_size=official_size)
        pairs[f"{kind}-224" if official_size else kind] = src, convert_hf_model(src)
    return pairs


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("fourier", (7, 11)),  # the source was built for 16x16: smaller, non-square
        ("fourier", (24, 20)),  # larger
        ("fourier", (1, 3)),
        ("fourier-224", (32, 32)),  # the official frequencies, for 224x224, at 32x32
        ("fourier-224", (40, 24)),
        ("learned", (7, 11)),  # 12x12 embedding, resized (interpolate_pos_encoding)
        ("learned", (20, 16)),
        ("conv", (5, 5)),  # the smallest size the convolution and pooling allow
        ("conv", (20, 44)),  # frequencies for 32x32 / 4
        ("conv", (48, 40)),
        ("conv-224", (37, 29)),  # the official frequencies, for 56x56
    ],
)
def test_converted_models_take_other_sizes_like_transformers(converted_pairs, name, size):
    src, tgt = converted_pairs[name]
    interpolate = name == "learned"
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = src(inputs=x, interpolate_pos_encoding=interpolate).logits
        assert expected.abs().max() > 0.1
        x_last = x.permute(0, 2, 3, 1)
        assert_close(tgt.backend_model(x_last, interpolate_pos_encoding=interpolate), expected)
        assert_close(tgt(pixel_values=x_last, interpolate_pos_encoding=interpolate).logits, expected)


def test_learned_positions_other_size_needs_interpolate_pos_encoding(converted_pairs):
    src, tgt = converted_pairs["learned"]
    x = torch.randn(1, 10, 12, 3)
    with pytest.raises(ValueError, match=r"covers 12x12 images; pass interpolate_pos_encoding=True to resize it"):
        tgt(pixel_values=x)
    with pytest.raises(RuntimeError):  # transformers refuses it too (without a clear message)
        src(inputs=x.permute(0, 3, 1, 2))
    # at the embedding's own size the flag changes nothing (transformers returns the embedding unchanged)
    x = torch.randn(1, 12, 12, 3)
    with torch.no_grad():
        assert_close(tgt(pixel_values=x, interpolate_pos_encoding=True).logits, tgt(pixel_values=x).logits, tol=0)


def test_conv_input_smaller_than_5x5_is_refused(converted_pairs):
    _, tgt = converted_pairs["conv"]
    with pytest.raises(ValueError, match=r"Input vision shape \(4, 9, 3\) too small: .* at least 5x5"):
        tgt(pixel_values=torch.randn(1, 4, 9, 3))


def test_pipeline_on_an_image_of_another_size(converted_pairs):
    src, tgt = converted_pairs["fourier"]
    tgt.config.id2label = {i: f"class {i}" for i in range(5)}
    image = PIL.Image.fromarray(np.random.default_rng(1).integers(0, 256, (13, 21, 3), dtype=np.uint8))
    # the processor resizes by default; without crop and resize the image keeps its 13x21 pixels
    processor = PerceiverImageClassifierInputProcessor(do_center_crop=False, do_resize=False)
    pixel_values = processor(image, return_tensors="pt").pixel_values
    assert pixel_values.shape == (1, 13, 21, 3)
    result = pipeline("image-classification", model=tgt, image_processor=processor)(image, top_k=5)
    with torch.no_grad():
        probs = src(inputs=pixel_values.permute(0, 3, 1, 2)).logits.softmax(-1)[0]
    assert [r["label"] for r in result] == [f"class {i}" for i in probs.argsort(descending=True).tolist()]
    np.testing.assert_allclose([r["score"] for r in result], probs.sort(descending=True).values, atol=1e-6)


def naive_fourier_features(size: tuple[int, int], resolution: tuple[int, int], bands: int) -> torch.Tensor:
    """[pos, sin, cos] of a grid of ``size`` with frequencies for ``resolution``, one pixel at a time."""
    rows = []
    for idx in range(size[0] * size[1]):
        pos = [-1 + 2 * i / (n - 1) if n > 1 else -1.0 for i, n in zip(divmod(idx, size[1]), size)]
        freqs = [[1 + f * (s / 2 - 1) / (bands - 1) for f in range(bands)] for s in resolution]
        sin = [math.sin(math.pi * p * f) for p, fs in zip(pos, freqs) for f in fs]
        cos = [math.cos(math.pi * p * f) for p, fs in zip(pos, freqs) for f in fs]
        rows.append(pos + sin + cos)
    return torch.tensor(rows)


def test_own_classifier_built_at_one_size_runs_at_another():
    torch.manual_seed(0)
    model = ImageClassifier(tiny_config()).eval()  # 8x8x3, 4 bands
    x = torch.randn(2, 12, 6, 3)
    adapted = model.encoder.input_adapter(x)
    assert_close(adapted[..., :3], x.flatten(1, 2))
    assert_close(adapted[0, :, 3:], naive_fourier_features((12, 6), (8, 8), 4), tol=1e-6)
    # the split fast path (shared position channels projected once per position) against the concatenated input
    with torch.no_grad():
        logits = model(x)
        latents = model.encoder.latent_provider().expand(2, -1, -1)
        latents = model.encoder.cross_attn_1(latents, adapted).last_hidden_state
        latents = model.encoder.self_attn_1(latents).last_hidden_state
        assert_close(logits, model.decoder(latents))
    assert not torch.allclose(logits, model(x[:, :8, :6]))


def test_fourier_encoding_of_other_grids_is_computed_once_and_follows_the_buffer():
    encoding = FourierPositionEncoding((8, 8), num_frequency_bands=3)
    assert encoding.encoding_for((8, 8)) is encoding.position_encoding
    other = encoding.encoding_for((5, 7))
    assert_close(other, naive_fourier_features((5, 7), (8, 8), 3), tol=1e-6)
    assert_close(encoding.encoding_for((1, 3)), naive_fourier_features((1, 3), (8, 8), 3), tol=1e-6)
    assert encoding.encoding_for((5, 7)) is not other  # recomputed after another size
    other = encoding.encoding_for((5, 7))
    assert encoding.encoding_for((5, 7)) is other  # cached for inputs of one size in a row
    assert encoding(2, (5, 7)).shape == (2, 35, 14)
    encoding.double()
    assert encoding.encoding_for((5, 7)).dtype == torch.float64
    assert "_other_shape" not in str(encoding.state_dict().keys())
    with pytest.raises(ValueError, match=r"input_shape must have 2 positive sizes \(as \(8, 8\)\), got \(5,\)"):
        encoding.encoding_for((5,))
    with pytest.raises(ValueError, match="positive sizes"):
        encoding.encoding_for((0, 4))
    with pytest.raises(ValueError, match="max_resolution"):
        FourierPositionEncoding((8, 8), 3, max_resolution=(8,))
