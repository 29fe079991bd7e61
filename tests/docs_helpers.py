"""Helpers that the docs snippet test (``tests/test_docs.py``) and the example scripts put at the docs' disposal.

The docs name official hub ids (``deepmind/language-perceiver`` ...); offline, a ``docs-test: replace`` directive
swaps such an id for ``tiny_source("mlm")``, the path of a small random ``transformers`` model of the same class
saved to a temporary folder. The converters then run their real code path on it.
"""

import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch
import transformers

from tests.model.multimodal.test_autoencoder import source_config as multimodal_source_config
from tests.model.text.utils import random_hf_mlm
from tests.model.vision.helpers import image_classifier_source, perceiver_config

# Window of the tiny optical-flow source: frames must be at least this large (the official model has 368x496).
FLOW_WINDOW = (48, 64)


def _mlm() -> torch.nn.Module:
    return random_hf_mlm(max_position_embeddings=128)


def _optical_flow() -> torch.nn.Module:
    return transformers.PerceiverForOpticalFlow(perceiver_config(num_blocks=1, train_size=list(FLOW_WINDOW))).eval()


def _multimodal() -> torch.nn.Module:
    return transformers.PerceiverForMultimodalAutoencoding(multimodal_source_config()).eval()


BUILDERS: dict[str, Callable[[], torch.nn.Module]] = {
    "mlm": _mlm,
    # image classifiers keep the official 224x224 input (the Fourier/conv sources fix their position encoding to
    # it), with a tiny latent array, so that they convert and run in well under a second
    "fourier": lambda: image_classifier_source("fourier", official_size=True),
    "learned": lambda: image_classifier_source("learned"),
    "conv": lambda: image_classifier_source("conv", official_size=True),
    "optical-flow": _optical_flow,
    "multimodal": _multimodal,
}


@cache
def tiny_source(kind: str) -> str:
    """Path of a folder holding a small random ``transformers`` Perceiver model of ``kind`` (one of ``BUILDERS``),
    built once per process with a fixed seed."""
    if kind not in BUILDERS:
        raise ValueError(f"kind must be one of {sorted(BUILDERS)}, got {kind!r}")
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        model = BUILDERS[kind]()
    finally:
        torch.random.set_rng_state(state)
    path = Path(tempfile.mkdtemp(prefix=f"tiny-{kind}-"))
    model.save_pretrained(path)
    return str(path)


def fixture_path(name: str) -> str:
    """Absolute path of ``tests/fixtures/<name>``: models saved by perceiver-io 0.11, standing in for its hub models."""
    path = Path(__file__).parent / "fixtures" / name
    if not path.exists():
        raise ValueError(f"no fixture {name!r} under {path.parent}")
    return str(path)


@cache
def reference_model(name: str) -> str:
    """A temporary copy of the perceiver-io 0.11 folder ``tests/fixtures/<name>/hf`` with what the hub models have
    beside the weights: the bytes tokenizer (text models) or an image processor (image classifier)."""
    import json
    import shutil

    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
    from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor

    path = Path(tempfile.mkdtemp(prefix=f"reference-{name}-")) / name
    shutil.copytree(fixture_path(f"{name}/hf"), path)
    if name in ("mlm", "text_classifier"):
        perceiver_bytes_tokenizer().save_pretrained(path)
    if name == "text_classifier":
        # the fixture was saved without class names (the published IMDb model has NEGATIVE/POSITIVE)
        config = json.loads((path / "config.json").read_text())
        num_classes = config["model_config"]["decoder"]["num_classes"]
        config["id2label"] = {str(i): f"CLASS_{i}" for i in range(num_classes)}
        config["label2id"] = {f"CLASS_{i}": i for i in range(num_classes)}
        (path / "config.json").write_text(json.dumps(config, indent=2))
    elif name == "clm":
        perceiver_bytes_tokenizer(padding_side="left").save_pretrained(path)
    elif name == "image_classifier":
        height, width, _ = json.loads((path / "config.json").read_text())["model_config"]["encoder"]["image_shape"]
        size = {"height": height, "width": width}
        PerceiverImageClassifierInputProcessor(size=size, crop_size=size).save_pretrained(path)
    return str(path)


DOCS_NAMESPACE = {"tiny_source": tiny_source, "fixture_path": fixture_path, "reference_model": reference_model}
