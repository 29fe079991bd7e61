"""Fuzzing generation and the causal models: ``generate`` of the CLM and symbolic-audio HF models (prompt shapes,
dtypes, ids, masks, lengths, latents, sampling options), their ``forward``, and the text-generation pipeline."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hardening import zoo
from tests.hardening.fuzz import PROFILES, assert_finite, attention_masks, call, token_tensors

MODELS = {"clm": zoo.clm, "audio": zoo.audio}


@PROFILES
def test_fuzz_causal_forward(profile):
    @settings(settings.get_profile(profile))
    @given(data=st.data(), name=st.sampled_from(sorted(MODELS)))
    def run(data, name):
        model = MODELS[name]()
        vocab = model.get_input_embeddings().num_embeddings
        x = data.draw(token_tensors(vocab, zoo.SEQ))
        mask = data.draw(attention_masks(x))
        prefix_len = data.draw(st.one_of(st.none(), st.integers(-1, zoo.SEQ + 1)))
        out = call(
            f"{type(model).__name__}.forward", lambda: model(input_ids=x, attention_mask=mask, prefix_len=prefix_len)
        )
        if out is not None:
            b, n = x.shape
            num_latents = n - out.prefix_len
            assert_finite("logits", out.logits, (b, num_latents, vocab))

    run()


@PROFILES
def test_fuzz_generate(profile):
    @settings(settings.get_profile(profile))
    @given(
        data=st.data(),
        name=st.sampled_from(sorted(MODELS)),
        max_new_tokens=st.integers(1, 6) | st.sampled_from([0, -1]),
        num_latents=st.integers(1, 4) | st.sampled_from([0, -1, 99]),
        do_sample=st.booleans(),
        top_k=st.sampled_from([None, 0, 1, 3]),
        use_cache=st.booleans(),
    )
    def run(data, name, max_new_tokens, num_latents, do_sample, top_k, use_cache):
        model = MODELS[name]()
        vocab = model.get_input_embeddings().num_embeddings
        x = data.draw(token_tensors(vocab, zoo.SEQ, max_batch=2))
        mask = data.draw(attention_masks(x))
        kwargs = dict(max_new_tokens=max_new_tokens, num_latents=num_latents, do_sample=do_sample, use_cache=use_cache)
        if top_k is not None:
            kwargs["top_k"] = top_k
        if mask is not None:
            kwargs["attention_mask"] = mask
        out = call(f"{type(model).__name__}.generate", lambda: model.generate(x, **kwargs))
        if out is not None:
            b, n = x.shape
            assert out.shape[0] == b and n < out.shape[1] <= n + max_new_tokens
            assert torch.equal(out[:, :n], x.to(out.dtype))
            assert ((out >= 0) & (out < vocab)).all()

    run()


@PROFILES
def test_fuzz_text_generation_pipeline(profile, tmp_path_factory):
    from transformers import pipeline

    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer

    folder = tmp_path_factory.mktemp("clm")
    zoo.clm().save_pretrained(folder)
    perceiver_bytes_tokenizer(padding_side="left").save_pretrained(folder)
    generator = pipeline("text-generation", model=str(folder))

    @settings(settings.get_profile(profile))
    @given(
        prompts=st.lists(st.text(max_size=12), min_size=1, max_size=3),
        max_new_tokens=st.integers(1, 5) | st.sampled_from([0, -1]),
        num_latents=st.integers(1, 4) | st.sampled_from([0, 99]),
    )
    def run(prompts, max_new_tokens, num_latents):
        out = call(
            "pipeline('text-generation')",
            lambda: generator(prompts, max_new_tokens=max_new_tokens, num_latents=num_latents, do_sample=False),
        )
        if out is not None:
            assert len(out) == len(prompts) and all(isinstance(o[0]["generated_text"], str) for o in out)

    run()
