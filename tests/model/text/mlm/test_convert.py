"""Conversion of transformers' PerceiverForMaskedLM (deepmind/language-perceiver) against the source model."""

import pytest
import torch
import transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

from perceiver.model.text.mlm import (
    MaskedLanguageModel,
    PerceiverMaskedLanguageModel,
    convert_config,
    convert_hf_model,
    convert_model,
)
from tests.model.text.utils import random_batch, random_hf_mlm, small_hf_config

VARIANTS = {
    # qk/v defaults: cross-attention qk = input width, self-attention qk = v = latent width
    "default-channels": dict(),
    # the official layout: explicit qk 32 and v = d_latents
    "official-layout": dict(qk_channels=32, v_channels=64),
    "one-block": dict(num_blocks=1, num_self_attends_per_block=3),
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def source(request):
    """A random source model, a batch whose last example is padded, and the source's logits."""
    src = random_hf_mlm(**VARIANTS[request.param])
    input_ids, attention_mask = random_batch(3, 40, num_pad=7)
    expected = source_logits(src, input_ids, attention_mask)
    assert expected.abs().max() > 1.0  # large enough for a wrong mapping to show
    return src, input_ids, attention_mask, expected


def source_logits(src, input_ids, attention_mask):
    with torch.no_grad():
        # transformers decodes all max_position_embeddings queries; ours crops to the input length
        return src(input_ids=input_ids, attention_mask=attention_mask).logits[:, : input_ids.shape[1]]


def test_converted_logits_match_source(source, tmp_path):
    src, input_ids, attention_mask, expected = source
    model = convert_hf_model(src).eval()
    with torch.no_grad():
        hf_logits = model(input_ids, attention_mask=attention_mask).logits
        backend_logits = model.backend_model(input_ids, pad_mask=~attention_mask.bool())
    torch.testing.assert_close(backend_logits, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(hf_logits, expected, atol=1e-5, rtol=0)

    model.save_pretrained(tmp_path)
    loaded = PerceiverMaskedLanguageModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        logits = loaded(input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


def test_converted_logits_match_source_at_full_length():
    src = random_hf_mlm(seed=2)
    input_ids, attention_mask = random_batch(2, 48)
    model = convert_hf_model(src).eval()
    with torch.no_grad():
        logits = model(input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(logits, source_logits(src, input_ids, attention_mask), atol=1e-5, rtol=0)


def test_convert_model_from_local_folder(tmp_path):
    src = random_hf_mlm(seed=3)
    src.save_pretrained(tmp_path / "source")
    convert_model(tmp_path / "converted", source_repo_id=str(tmp_path / "source"))

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "converted")
    assert tokenizer.is_fast and tokenizer.model_max_length == 48
    model = AutoModelForMaskedLM.from_pretrained(tmp_path / "converted").eval()
    assert isinstance(model, PerceiverMaskedLanguageModel)

    encoding = tokenizer(["Perceiver IO reads bytes.", "short"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoding).logits
    expected = source_logits(src, encoding["input_ids"], encoding["attention_mask"])
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)

    # fill-mask on the converted folder: several consecutive byte masks, each scored like the source scores it
    fill_mask = pipeline("fill-mask", model=str(tmp_path / "converted"))
    results = fill_mask("Perceiver [MASK][MASK][MASK][MASK] bytes.", top_k=1)
    assert len(results) == 4
    encoding = tokenizer("Perceiver [MASK][MASK][MASK][MASK] bytes.", return_tensors="pt")
    probs = source_logits(src, encoding["input_ids"], encoding["attention_mask"]).softmax(dim=-1)[0]
    for position, candidates in zip(range(11, 15), results, strict=True):
        assert candidates[0]["token"] == probs[position].argmax().item()
        assert candidates[0]["score"] == pytest.approx(probs[position].max().item(), abs=1e-5)


def test_official_configuration_has_201m_parameters():
    # deepmind/language-perceiver's config.json: transformers' defaults plus qk 256 / v 1280
    hf_config = transformers.PerceiverConfig(qk_channels=256, v_channels=1280)
    assert (hf_config.d_model, hf_config.d_latents, hf_config.num_latents) == (768, 1280, 256)
    assert (hf_config.num_self_attends_per_block, hf_config.max_position_embeddings) == (26, 2048)
    config = convert_config(hf_config)
    with torch.device("meta"):
        model = MaskedLanguageModel(config)
        source = transformers.PerceiverForMaskedLM(hf_config)
    assert sum(p.numel() for p in model.parameters()) == 201_108_230
    assert sum(p.numel() for p in source.parameters()) == 201_108_230
    assert (config.encoder.num_cross_attention_qk_channels, config.encoder.num_cross_attention_v_channels) == (
        256,
        1280,
    )
    assert config.decoder.num_cross_attention_qk_channels == 256
    assert config.decoder.num_cross_attention_v_channels == 768
    assert config.decoder.cross_attention_residual is False


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hidden_act="relu"), "only hidden_act='gelu'"),
        (dict(cross_attention_shape_for_attention="q"), "cross_attention_shape_for_attention='kv'"),
        (dict(use_query_residual=False), "use_query_residual=True"),
        (dict(qk_channels=32, v_channels=32), r"self-attention v_channels \(32\) must equal d_latents \(64\)"),
    ],
)
def test_unsupported_source_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        convert_config(small_hf_config(**kwargs))
