"""TextClassifier and PerceiverTextClassifier: reference fixture, loss, labels, pipeline, checkpoints, bad input."""

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification, pipeline

from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
from perceiver.model.text.classifier import (
    ClassificationDecoderConfig,
    PerceiverTextClassifier,
    PerceiverTextClassifierConfig,
    TextClassifier,
    TextClassifierConfig,
    TextEncoderConfig,
    convert_checkpoint,
    convert_imdb_classifier_checkpoint,
)
from tests.model.text.utils import FIXTURES, save_lightning_checkpoint

FIXTURE = FIXTURES / "text_classifier"


def fixture_config() -> TextClassifierConfig:
    encoder = TextEncoderConfig(
        vocab_size=262,
        max_seq_len=64,
        num_input_channels=32,
        num_cross_attention_heads=4,
        num_self_attention_heads=4,
        num_self_attention_layers_per_block=2,
        init_scale=0.02,  # perceiver-io 0.11's fixed default, named in its saved config (ours scales with the width)
    )
    decoder = ClassificationDecoderConfig(
        num_classes=3, num_output_query_channels=64, num_cross_attention_heads=4, init_scale=0.02
    )
    return TextClassifierConfig(encoder, decoder, num_latents=16, num_latent_channels=64)


@pytest.fixture(scope="module")
def io():
    return torch.load(FIXTURE / "io.pt")


@pytest.fixture(scope="module")
def backend():
    model = TextClassifier(fixture_config()).eval()
    model.load_state_dict(torch.load(FIXTURE / "backend_state_dict.pt"))
    return model


@pytest.fixture(scope="module")
def model():
    return PerceiverTextClassifier.from_pretrained(FIXTURE / "hf").eval()


def test_reference_backend_logits(backend, io):
    import dataclasses

    assert dataclasses.asdict(fixture_config()) == json.loads((FIXTURE / "config.json").read_text())
    assert list(backend.state_dict()) == list(torch.load(FIXTURE / "backend_state_dict.pt"))
    assert sum(p.numel() for p in backend.parameters()) == 108_675
    with torch.no_grad():
        logits = backend(io["inputs"], pad_mask=io["pad_mask"])
    assert logits.shape == (2, 3)
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)


def test_reference_folder_logits(model, io):
    assert model.config.model_type == "perceiver-io-text-classifier"
    with torch.no_grad():
        logits = model(io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["hf_logits"], atol=1e-5, rtol=0)


def test_auto_classes_and_round_trip(io, tmp_path):
    assert isinstance(AutoConfig.from_pretrained(FIXTURE / "hf"), PerceiverTextClassifierConfig)
    model = AutoModelForSequenceClassification.from_pretrained(FIXTURE / "hf").eval()
    assert isinstance(model, PerceiverTextClassifier)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        logits = loaded(io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["hf_logits"], atol=1e-5, rtol=0)


def test_padding_is_ignored(backend, io):
    x, pad_mask = io["inputs"].clone(), io["pad_mask"]
    with torch.no_grad():
        before = backend(x, pad_mask=pad_mask)
        x[pad_mask] = 7
        after = backend(x, pad_mask=pad_mask)
    torch.testing.assert_close(before, after, atol=1e-6, rtol=0)


def test_labels_give_the_cross_entropy(model, io):
    labels = torch.tensor([2, 0])
    output = model(io["inputs"], attention_mask=io["attention_mask"], labels=labels)
    torch.testing.assert_close(output.loss, F.cross_entropy(output.logits, labels))
    output.loss.backward()
    assert model.backend_model.decoder.output_adapter.linear.weight.grad is not None
    model.zero_grad()
    with pytest.raises(ValueError, match=r"labels must have shape \(batch_size,\) = \(2,\), got \(2, 1\)"):
        model(io["inputs"], labels=labels[:, None])


def test_frozen_encoder_trains_only_the_decoder(io):
    config = fixture_config()
    config.encoder.freeze = True
    model = TextClassifier(config)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    encoder_before = [p.clone() for p in model.encoder.parameters()]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = F.cross_entropy(model(io["inputs"], pad_mask=io["pad_mask"]), torch.tensor([0, 1]))
    loss.backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(encoder_before, model.encoder.parameters(), strict=True))


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.tensor([[5, 300]]), r"x holds token ids in \[5..300\], outside the vocabulary \[0..261\]"),
        (torch.zeros(1, 65, dtype=torch.long), r"x has sequence length 65, longer than max_seq_len \(64\)"),
        (torch.zeros(0, 4, dtype=torch.long), "x is an empty batch"),
    ],
)
def test_bad_token_ids(backend, x, match):
    with pytest.raises(ValueError, match=match):
        backend(x)


def test_bad_pad_mask(backend):
    with pytest.raises(ValueError, match=r"pad_mask must have shape \(batch_size, num_keys\) = \(1, 4\)"):
        backend(torch.zeros(1, 4, dtype=torch.long), pad_mask=torch.zeros(1, 5, dtype=torch.bool))


@pytest.fixture()
def folder(tmp_path, model):
    model.save_pretrained(tmp_path)
    perceiver_bytes_tokenizer(model_max_length=64).save_pretrained(tmp_path)
    return tmp_path


def test_pipeline_returns_labels_from_id2label(folder, model):
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "negative", "1": "neutral", "2": "positive"}
    config["label2id"] = {"negative": 0, "neutral": 1, "positive": 2}
    (folder / "config.json").write_text(json.dumps(config))

    classify = pipeline("text-classification", model=str(folder))
    texts = ["what a great movie", "rather dull", "é😀"]
    results = classify(texts)
    encoding = classify.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        probs = model(**encoding).logits.softmax(dim=-1)
    names = ["negative", "neutral", "positive"]
    for result, p in zip(results, probs, strict=True):
        assert result["label"] == names[p.argmax()]
        assert result["score"] == pytest.approx(p.max().item(), abs=1e-6)
    all_scores = classify(texts[0], top_k=None)
    assert [r["label"] for r in all_scores] == [names[i] for i in probs[0].argsort(descending=True)]


def test_folder_without_id2label(folder):
    assert "id2label" not in json.loads((FIXTURE / "hf" / "config.json").read_text())
    model = PerceiverTextClassifier.from_pretrained(folder)  # loads: labels are only needed for names
    assert len(model.config.id2label) == 0
    classify = pipeline("text-classification", model=str(folder))
    with pytest.raises(ValueError, match=r"this text classifier has no class labels .* its 3 classes"):
        classify("some text")


def test_id2label_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"id2label has 2 labels .* num_classes=3"):
        PerceiverTextClassifierConfig(fixture_config(), id2label={0: "a", 1: "b"})


def test_convert_lightning_checkpoint_with_labels(tmp_path, backend, io):
    ckpt = save_lightning_checkpoint(tmp_path / "clf.ckpt", backend)
    tokenizer = perceiver_bytes_tokenizer(model_max_length=64)
    convert_checkpoint(tmp_path / "out", ckpt, tokenizer, id2label={0: "a", 1: "b", 2: "c"})

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    assert loaded.config.id2label == {0: "a", 1: "b", 2: "c"} and loaded.config.label2id == {"a": 0, "b": 1, "c": 2}
    with torch.no_grad():
        logits = loaded(io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)
    result = pipeline("text-classification", model=str(tmp_path / "out"))("hello")
    assert result[0]["label"] in {"a", "b", "c"}

    with pytest.raises(ValueError, match="id2label has 2 labels but the classifier has num_classes=3"):
        convert_checkpoint(tmp_path / "bad", ckpt, tokenizer, id2label={0: "a", 1: "b"})


def test_convert_imdb_checkpoint(tmp_path):
    config = fixture_config()
    config.decoder.num_classes = 2
    ckpt = save_lightning_checkpoint(tmp_path / "imdb.ckpt", TextClassifier(config), as_dicts=True)
    convert_imdb_classifier_checkpoint(tmp_path / "out", ckpt, perceiver_bytes_tokenizer(model_max_length=64))
    classify = pipeline("sentiment-analysis", model=str(tmp_path / "out"))
    assert classify("a film")[0]["label"] in {"NEGATIVE", "POSITIVE"}
