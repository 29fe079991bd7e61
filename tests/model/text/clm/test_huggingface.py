"""The Hugging Face wrapper: reference folders and checkpoints, Auto classes, loss, validation messages."""

import shutil

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, PerceiverTokenizer

from perceiver.model.core.huggingface import PerceiverARCache, PerceiverCausalSequenceModel
from perceiver.model.text.clm import (
    CausalLanguageModel,
    CausalLanguageModelConfig,
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
    convert_checkpoint,
    load_checkpoint,
)

from .conftest import FIXTURES, tiny_config, tiny_model


def test_reference_hf_folder_loads_through_auto_classes():
    config = AutoConfig.from_pretrained(FIXTURES / "hf")
    assert isinstance(config, PerceiverCausalLanguageModelConfig)
    assert config.model_type == "perceiver-ar-causal-language-model"
    assert config.backend_config == CausalLanguageModelConfig.create(**config.model_config)
    model = AutoModelForCausalLM.from_pretrained(FIXTURES / "hf").eval()
    assert isinstance(model, PerceiverCausalLanguageModel) and isinstance(model, PerceiverCausalSequenceModel)
    assert isinstance(model.backend_model, CausalLanguageModel)
    io = torch.load(FIXTURES / "io.pt")
    with torch.no_grad():
        out = model(io["inputs"], prefix_len=io["prefix_len"], attention_mask=io["attention_mask"])
    torch.testing.assert_close(out.logits, io["hf_logits"], atol=1e-5, rtol=0)
    assert out.prefix_len == io["prefix_len"]
    assert out.hidden_states[0].shape == (2, 16, 32)


@pytest.mark.parametrize("case", ["no_padding", "left_padded"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_reference_greedy_tokens_while_latents_grow(case, use_cache):
    model = PerceiverCausalLanguageModel.from_pretrained(FIXTURES / "hf").eval()
    ref = torch.load(FIXTURES / "generate.pt")[case]
    output = model.generate(
        ref["input_ids"],
        attention_mask=ref["attention_mask"],
        num_latents=ref["num_latents"],
        max_new_tokens=ref["max_new_tokens"],
        do_sample=False,
        use_cache=use_cache,
        pad_token_id=0,
    )
    assert output.shape == ref["output_use_cache_true"].shape
    # prompt 8 with 4 latents: latents grow to max_latents 16 for the first 13 new tokens (columns up to 21);
    # after that the reference's window slides approximately and ours refills exactly
    assert torch.equal(output[:, :21], ref["output_use_cache_true"][:, :21])
    assert torch.equal(output[:, :21], ref["output_use_cache_false"][:, :21])


def test_save_and_load_round_trip(tmp_path):
    model = tiny_model(output_norm=True, abs_pos_emb=False)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.config.backend_config == model.config.backend_config
    x = torch.randint(0, 40, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, prefix_len=6).logits, model(x, prefix_len=6).logits, atol=0, rtol=0)


def test_config_takes_the_backend_config_positionally():
    config = PerceiverCausalLanguageModelConfig(tiny_config())
    assert config.backend_config == tiny_config()
    assert config.is_decoder and config.vocab_size == 40
    assert PerceiverCausalLanguageModelConfig().backend_config == CausalLanguageModelConfig()


def test_lightning_checkpoint_loads_without_lightning_modules():
    io = torch.load(FIXTURES / "lit_io.pt")
    config, state_dict = load_checkpoint(FIXTURES / "lit.ckpt")
    assert config.max_latents == 16 and len(state_dict) == 37
    model = PerceiverCausalLanguageModel.from_checkpoint(FIXTURES / "lit.ckpt").eval()
    with torch.no_grad():
        logits = model.backend_model(io["inputs"], prefix_len=io["prefix_len"], pad_mask=io["pad_mask"]).logits
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)


def test_convert_checkpoint_saves_model_and_left_padding_tokenizer(tmp_path):
    tokenizer_dir = tmp_path / "tokenizer"
    PerceiverTokenizer().save_pretrained(tokenizer_dir)
    save_dir = tmp_path / "converted"
    convert_checkpoint(save_dir, FIXTURES / "lit.ckpt", tokenizer_name=str(tokenizer_dir))
    model = AutoModelForCausalLM.from_pretrained(save_dir).eval()
    io = torch.load(FIXTURES / "lit_io.pt")
    attention_mask = (~io["pad_mask"]).long()
    with torch.no_grad():
        logits = model(io["inputs"], prefix_len=io["prefix_len"], attention_mask=attention_mask).logits
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)
    assert PerceiverTokenizer.from_pretrained(save_dir).padding_side == "left"


def test_load_checkpoint_rejects_other_files(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="is not a Lightning checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")
    ckpt = torch.load(FIXTURES / "lit.ckpt", weights_only=False)
    ckpt["state_dict"] = {"backbone." + k: v for k, v in ckpt["state_dict"].items()}
    torch.save(ckpt, tmp_path / "prefix.ckpt")
    with pytest.raises(ValueError, match="no weights with prefix 'model.'"):
        load_checkpoint(tmp_path / "prefix.ckpt")


def test_labels_give_the_next_token_loss_over_the_latents():
    model = tiny_model()
    x = torch.randint(0, 40, (2, 16))
    labels = x.clone()
    labels[0, 12] = -100
    out = model(x, prefix_len=10, labels=labels)
    logits = out.logits  # latents at positions 10..15 predict tokens 11..15
    losses = [
        torch.nn.functional.cross_entropy(logits[b, i], labels[b, 11 + i], reduction="none")
        for b in range(2)
        for i in range(5)
        if labels[b, 11 + i] != -100
    ]
    torch.testing.assert_close(out.loss, torch.stack(losses).mean())
    out.loss.backward()
    assert model.backend_model.input_adapter.txt_embedding.weight.grad is not None
    with pytest.raises(ValueError, match=r"labels must have the shape of input_ids \(2, 16\), got \(2, 15\)"):
        model(x, prefix_len=10, labels=labels[:, 1:])


def test_default_prefix_len_makes_the_last_max_latents_positions_latents():
    model = tiny_model()
    x = torch.randint(0, 40, (1, 20))
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out.logits, model(x, prefix_len=14).logits)
    assert out.prefix_len == 14 and out.logits.shape == (1, 6, 40)
    logits, hidden_states, prefix_len = model(x, return_dict=False)
    assert torch.equal(logits, out.logits) and prefix_len == 14 and hidden_states[0].shape == (1, 6, 16)


def test_forward_with_cache_continues_exactly():
    model = tiny_model()
    x = torch.randint(0, 40, (2, 12))
    with torch.no_grad():
        full = model(x, prefix_len=8).logits
        first = model(x[:, :10], prefix_len=8, use_cache=True)
        assert isinstance(first.cache, PerceiverARCache) and first.cache.get_seq_length() == 10
        assert first.past_key_values is first.cache and len(first.cache) == 3
        second = model(x[:, 10:], past_key_values=first.cache)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], dim=1), full, atol=1e-5, rtol=0)
    assert first.cache[0][0].shape == (2, 12, 16)


def test_forward_rejects_foreign_caches():
    from transformers import DynamicCache

    model = tiny_model()
    with pytest.raises(TypeError, match="cache must be a PerceiverARCache, got DynamicCache"):
        model(torch.randint(0, 40, (1, 4)), cache=DynamicCache())


def test_cross_attention_dropout_with_cache_in_training_raises():
    model = tiny_model(cross_attention_dropout=0.5).train()
    with pytest.raises(ValueError, match="cross-attention dropout not supported with caching"):
        model(torch.randint(0, 40, (1, 12)), prefix_len=6, use_cache=True)


def test_prefix_len_out_of_range_raises():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"prefix_len \(12\) out of valid range \[0..12\)"):
        model(torch.randint(0, 40, (1, 12)), prefix_len=12)
    with pytest.raises(ValueError, match=r"prefix_len \(19\) exceeds max_prefix_len \(18\)"):
        model(torch.randint(0, 40, (1, 24)), prefix_len=19)


# reference messages: max_seq_len 12, max_latents 6 (the reference's test configuration)
@pytest.mark.parametrize(
    "seq_len, num_latents, message",
    [
        (0, 1, "Input sequence length out of valid range [1..12]"),
        (13, 1, "Input sequence length out of valid range [1..12]"),
        (6, 0, "num_latents=0 out of valid range [1..6]"),
        (6, 7, "num_latents=7 out of valid range [1..6]"),
        (11, 3, "For given sequence of length=11, num_latents must be in range [5..6]"),
    ],
)
def test_generate_reference_messages(seq_len, num_latents, message):
    model = tiny_model(max_seq_len=12, max_latents=6)
    with pytest.raises(ValueError) as info:
        model.generate(torch.randint(0, 40, (2, seq_len)), max_new_tokens=3, num_latents=num_latents)
    assert info.value.args[0] == message


def test_generate_without_inputs_raises_reference_message():
    with pytest.raises(ValueError) as info:
        tiny_model().generate(max_new_tokens=3)
    assert info.value.args[0] == "Either inputs or input_ids must be defined"


def test_generate_limits_are_reached():
    model = tiny_model(max_seq_len=12, max_latents=6)
    assert model.generate(torch.randint(0, 40, (2, 12)), max_new_tokens=3, num_latents=6).shape == (2, 15)
    assert model.generate(input_ids=torch.randint(0, 40, (2, 6)), max_new_tokens=9, num_latents=6).shape == (2, 15)


def test_generate_rejects_right_padding_and_bad_arguments():
    model = tiny_model()
    x = torch.randint(1, 40, (2, 6))
    right = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    with pytest.raises(ValueError, match=r"attention_mask must be left-padded .* rows \[1\]"):
        model.generate(x, attention_mask=right, max_new_tokens=2, pad_token_id=0)
    with pytest.raises(ValueError, match=r"attention_mask must have the shape of input_ids \(2, 6\), got \(2, 5\)"):
        model.generate(x, attention_mask=right[:, :5], max_new_tokens=2)
    with pytest.raises(ValueError, match="Only one of inputs or input_ids may be defined"):
        model.generate(x, input_ids=x, max_new_tokens=2)
    with pytest.raises(ValueError, match=r"input_ids must be a tensor of shape \(batch_size, seq_len\), got a tensor"):
        model.generate(x[0], max_new_tokens=2)
    with pytest.raises(ValueError, match="cache cannot be passed to generate"):
        model.generate(x, max_new_tokens=2, cache=PerceiverARCache())
    with pytest.raises(ValueError, match=r"refill_latents=9 out of valid range \[1..6\]"):
        model.generate(x, max_new_tokens=2, refill_latents=9)
    with pytest.raises(TypeError, match="compile_decode_step must be a bool, got str"):
        model.generate(x, max_new_tokens=2, compile_decode_step="yes")


@pytest.mark.slow
def test_generate_with_compiled_decode_step_equals_eager():
    torch.manual_seed(0)
    model = tiny_model(max_seq_len=24, max_latents=6)
    prompt = torch.randint(1, 40, (2, 9))
    attention_mask = torch.ones_like(prompt)
    attention_mask[1, :3] = 0
    kwargs = dict(max_new_tokens=20, num_latents=2, attention_mask=attention_mask, pad_token_id=0)
    compiled = model.generate(prompt, compile_decode_step=True, **kwargs)
    torch.testing.assert_close(compiled, model.generate(prompt, **kwargs), atol=0, rtol=0)


def test_reference_folder_copy_keeps_generation_config(tmp_path):
    shutil.copytree(FIXTURES / "hf", tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    model.save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / "generation_config.json").exists()
    assert AutoConfig.from_pretrained(tmp_path / "again").model_config == model.config.model_config
