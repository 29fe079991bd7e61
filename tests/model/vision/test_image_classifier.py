import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
import transformers
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification, pipeline

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.huggingface import perceiver_io_config_from_dict
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
    adapter = ConvImageInputAdapter((224, 224, 3), num_conv_channels=8, num_frequency_bands=3).eval()
    assert adapter.position_encoding.position_encoding.shape == (55 * 55, 2 * (2 * 3 + 1))
    assert adapter(torch.randn(1, 224, 224, 3)).shape == (1, 55 * 55, 8 + 14)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.randn(2, 8, 9, 3), ValueError, "Input vision shape"),
        (torch.randn(2, 8, 8, 1), ValueError, "different from required shape"),
        (torch.randn(2, 3, 8, 8), ValueError, "channels last"),
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
    with pytest.raises(ValueError, match="at least 4x4"):
        ConvImageInputAdapter((3, 8, 3))
    with pytest.raises(ValueError, match="num_conv_channels must be > 0"):
        ImageClassifier(tiny_config(input_adapter_type="learned", num_conv_channels=0))
    with pytest.raises(ValueError, match="num_position_channels must be > 0"):
        LearnedImageInputAdapter((8, 8, 3), num_position_channels=0)
