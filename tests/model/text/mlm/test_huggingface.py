"""PerceiverMaskedLanguageModel: reference HF folder, Auto classes, loss, fill-mask pipeline, Lightning checkpoints."""

import shutil

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForMaskedLM, pipeline

from perceiver.data.text.preprocessor import TextPreprocessor
from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
from perceiver.model.text.mlm import (
    MaskedLanguageModel,
    MaskFiller,
    PerceiverMaskedLanguageModel,
    PerceiverMaskedLanguageModelConfig,
    convert_checkpoint,
)
from tests.model.text.utils import FIXTURES, save_lightning_checkpoint

FIXTURE = FIXTURES / "mlm"


@pytest.fixture(scope="module")
def io():
    return torch.load(FIXTURE / "io.pt")


@pytest.fixture(scope="module")
def model():
    return PerceiverMaskedLanguageModel.from_pretrained(FIXTURE / "hf").eval()


def test_reference_folder_loads_and_reproduces_logits(model, io):
    assert model.config.model_type == "perceiver-io-masked-language-model"
    with torch.no_grad():
        logits = model(io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["hf_logits"], atol=1e-5, rtol=0)


def test_auto_classes(io):
    config = AutoConfig.from_pretrained(FIXTURE / "hf")
    assert isinstance(config, PerceiverMaskedLanguageModelConfig)
    assert config.backend_config.decoder.cross_attention_residual is False
    model = AutoModelForMaskedLM.from_pretrained(FIXTURE / "hf").eval()
    assert isinstance(model, PerceiverMaskedLanguageModel)
    with torch.no_grad():
        logits = model(input_ids=io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["hf_logits"], atol=1e-5, rtol=0)


def test_save_and_load_round_trip(model, io, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert loaded.config.model_config == model.config.model_config
    with torch.no_grad():
        logits = loaded(io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["hf_logits"], atol=1e-5, rtol=0)


def test_default_config():
    config = PerceiverMaskedLanguageModelConfig()
    backend = config.backend_config
    assert (backend.num_latents, backend.num_latent_channels) == (512, 512)
    assert (backend.encoder.vocab_size, backend.encoder.max_seq_len, backend.encoder.num_input_channels) == (
        10003,
        256,
        64,
    )
    assert (backend.decoder.vocab_size, backend.decoder.max_seq_len) == (10003, 512)
    assert backend.decoder.num_output_query_channels is None


def test_labels_give_the_masked_lm_loss(model, io):
    input_ids, attention_mask = io["inputs"], io["attention_mask"]
    labels = torch.full_like(input_ids, -100)
    labels[:, 5:15] = input_ids[:, 5:15]
    masked = input_ids.clone()
    masked[:, 5:15] = 3
    output = model(masked, attention_mask=attention_mask, labels=labels)
    expected = F.cross_entropy(output.logits[:, 5:15].reshape(-1, 262), input_ids[:, 5:15].reshape(-1))
    torch.testing.assert_close(output.loss, expected)
    output.loss.backward()
    assert model.backend_model.encoder.input_adapter.txt_embedding.weight.grad is not None
    model.zero_grad()


def test_tuple_output(model, io):
    loss, logits = model(io["inputs"], labels=io["inputs"], return_dict=False)
    assert loss.dim() == 0 and logits.shape == (2, 64, 262)


def test_bad_wrapper_input(model, io):
    with pytest.raises(ValueError, match=r"labels must have the shape of input_ids \(2, 64\), got \(2, 63\)"):
        model(io["inputs"], labels=io["inputs"][:, :63])
    with pytest.raises(ValueError, match=r"attention_mask must have the shape of input_ids \(2, 64\), got \(2, 60\)"):
        model(io["inputs"], attention_mask=io["attention_mask"][:, :60])
    with pytest.raises(ValueError, match="input_ids must be given"):
        model(attention_mask=io["attention_mask"])
    with pytest.raises(TypeError, match=r"unexpected arguments: \['pixel_values'\]"):
        model(io["inputs"], pixel_values=io["inputs"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(io["inputs"] + 300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("mlm")
    model.save_pretrained(path)
    perceiver_bytes_tokenizer(model_max_length=64).save_pretrained(path)
    return path


def test_fill_mask_pipeline_fills_consecutive_byte_masks(folder, model):
    fill_mask = pipeline("fill-mask", model=str(folder))
    text = "the cat sat on [MASK][MASK][MASK] mat"
    results = fill_mask(text, top_k=3)
    assert len(results) == 3  # one list of candidates per [MASK]

    encoding = fill_mask.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        probs = model(**encoding).logits.softmax(dim=-1)[0]
    mask_positions = (encoding["input_ids"][0] == 3).nonzero().flatten().tolist()
    assert mask_positions == [16, 17, 18]  # [CLS] + 15 bytes
    for position, candidates in zip(mask_positions, results, strict=True):
        top = probs[position].topk(3)
        assert [c["token"] for c in candidates] == top.indices.tolist()
        assert [c["score"] for c in candidates] == pytest.approx(top.values.tolist(), abs=1e-6)


def test_fill_mask_pipeline_single_mask(folder):
    fill_mask = pipeline("fill-mask", model=str(folder))
    results = fill_mask("hello [MASK]orld", top_k=2)
    assert len(results) == 2
    assert all(r["sequence"].startswith("hello ") and r["sequence"].endswith("orld") for r in results)


def test_mask_filler(folder, model):
    preprocessor = TextPreprocessor(str(folder), max_seq_len=64, add_special_tokens=True)
    filler = MaskFiller(preprocessor)
    texts = ["a <mask><mask> dog", "no masks here"]
    masked, filled = filler.fill(model, texts, num_predictions=2)
    assert masked == ["a [MASK][MASK] dog", "no masks here"]
    assert len(filled) == 2 and all(len(f) == 2 for f in filled)
    assert filled[1] == ["no masks here", "no masks here"]

    input_ids, pad_mask = preprocessor.preprocess_batch(masked)
    with torch.no_grad():
        logits = model.backend_model(input_ids, pad_mask=pad_mask)
    assert input_ids[0, 3:5].tolist() == [3, 3]  # the two masks after [CLS] "a "
    ids = input_ids[0].clone()
    ids[3:5] = logits[0, 3:5].argmax(dim=-1)
    assert filled[0][0] == preprocessor.tokenizer.decode(ids, skip_special_tokens=True)
    assert filled[0][0] != filled[0][1]
    # the backend and the wrapper give the same predictions
    assert filler.fill(model.backend_model, texts, num_predictions=2)[1] == filled
    with pytest.raises(ValueError, match="num_predictions must be > 0"):
        filler.fill(model, texts, num_predictions=0)


@pytest.mark.parametrize("as_dicts", [False, True])
def test_convert_lightning_checkpoint(tmp_path, io, as_dicts):
    backend = MaskedLanguageModel(PerceiverMaskedLanguageModelConfig.from_pretrained(FIXTURE / "hf").backend_config)
    backend.load_state_dict(torch.load(FIXTURE / "backend_state_dict.pt"))
    ckpt = save_lightning_checkpoint(tmp_path / "mlm.ckpt", backend, as_dicts=as_dicts)

    tokenizer_dir = tmp_path / "tokenizer"
    perceiver_bytes_tokenizer().save_pretrained(tokenizer_dir)
    convert_checkpoint(tmp_path / "out", ckpt, str(tokenizer_dir))

    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "out").eval()
    assert loaded.config.is_decoder is False
    with torch.no_grad():
        logits = loaded(io["inputs"], attention_mask=io["attention_mask"]).logits
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)
    assert (tmp_path / "out" / "tokenizer.json").exists()


def test_bad_lightning_checkpoint(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "bad.ckpt")
    with pytest.raises(ValueError, match="is not a Lightning checkpoint"):
        PerceiverMaskedLanguageModel.from_checkpoint(tmp_path / "bad.ckpt")
    torch.save({"state_dict": {}, "hyper_parameters": {"vocab_size": 262}}, tmp_path / "clm.ckpt")
    with pytest.raises(ValueError, match="hyper_parameters lack"):
        PerceiverMaskedLanguageModel.from_checkpoint(tmp_path / "clm.ckpt")


def test_reference_folder_is_unchanged_by_loading(tmp_path):
    # a copy of the reference folder (config.json of transformers 4.44) loads without rewriting anything
    shutil.copytree(FIXTURE / "hf", tmp_path / "hf")
    before = (tmp_path / "hf" / "config.json").read_text()
    PerceiverMaskedLanguageModel.from_pretrained(tmp_path / "hf")
    assert (tmp_path / "hf" / "config.json").read_text() == before
