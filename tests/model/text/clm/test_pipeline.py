"""``pipeline("text-generation")`` from a local folder with left-padding tokenizers."""

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PerceiverTokenizer, PreTrainedTokenizerFast, pipeline

from perceiver.model.core.generation import LatentSchedule

from .conftest import tiny_model


def char_tokenizer() -> PreTrainedTokenizerFast:
    """A small fast tokenizer (one token per lower-case character) built with the tokenizers library."""
    alphabet = list("abcdefghijklmnopqrstuvwxyz .,!?")
    vocab = {"[PAD]": 0, "[UNK]": 1} | {c: i + 2 for i, c in enumerate(alphabet)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", padding_side="left"
    )


def bytes_tokenizer():
    module = pytest.importorskip("perceiver.data.text.tokenizer")
    return module.perceiver_bytes_tokenizer(padding_side="left")


@pytest.mark.parametrize(
    "make_tokenizer", [char_tokenizer, bytes_tokenizer, lambda: PerceiverTokenizer(padding_side="left")]
)
def test_text_generation_pipeline_from_a_local_folder(tmp_path, make_tokenizer):
    tokenizer = make_tokenizer()
    model = tiny_model(vocab_size=len(tokenizer), max_seq_len=32, max_latents=8)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    generator = pipeline("text-generation", model=str(tmp_path))
    assert generator.tokenizer.padding_side == "left"
    prompts = ["hello world", "a b"]
    texts = generator(prompts, max_new_tokens=12, num_latents=4, do_sample=False, return_full_text=False, batch_size=2)
    assert len(texts) == 2 and all(isinstance(t[0]["generated_text"], str) for t in texts)
    out = generator(prompts, max_new_tokens=12, num_latents=4, do_sample=False, return_tensors=True, batch_size=2)
    assert texts[0][0]["generated_text"] == tokenizer.decode(out[0][0]["generated_token_ids"][-12:])

    # The batched, left-padded pipeline output equals generating each prompt alone, as long as the latents of the
    # padded row grow: the schedule counts padded columns, so its refills come at other tokens (each row stays exact).
    batch_len = max(len(tokenizer(text)["input_ids"]) for text in prompts)
    for text, result in zip(prompts, out):
        enc = tokenizer(text, return_tensors="pt")
        n = enc["input_ids"].shape[1]
        ids = model.generate(**enc, num_latents=4, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id)
        new_ids = result[0]["generated_token_ids"][-12:]
        first_refill = LatentSchedule.create(32, 8, batch_len, 4).first_refill - batch_len
        first_refill_alone = LatentSchedule.create(32, 8, n, 4).first_refill - n
        num_equal = 12 if n == batch_len else min(first_refill, first_refill_alone)
        assert num_equal >= 5
        assert list(new_ids[:num_equal]) == ids[0, n : n + num_equal].tolist()

    contrastive = generator("hello", max_new_tokens=8, num_latents=2, do_sample=False, penalty_alpha=0.6, top_k=4)
    assert contrastive[0]["generated_text"].startswith("hello")
    torch.manual_seed(0)
    sampled = generator("hello", max_new_tokens=8, do_sample=True, top_p=0.9, return_full_text=False)
    torch.manual_seed(0)
    assert generator("hello", max_new_tokens=8, do_sample=True, top_p=0.9, return_full_text=False) == sampled
