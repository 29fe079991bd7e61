"""Decoding strategies of ``generate`` on a tiny model: exactness of the cache, and each strategy against an
independent computation."""

import pytest
import torch
from transformers.generation.streamers import BaseStreamer

from perceiver.model.core.generation import LatentSchedule, generate_greedy, step_inputs

from .conftest import tiny_model

VOCAB = 40


def prompt(batch: int = 2, n: int = 10, num_pad: int = 0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, VOCAB, (batch, n), generator=g)
    attention_mask = torch.ones_like(input_ids)
    if num_pad:
        attention_mask[-1, :num_pad] = 0
        input_ids[-1, :num_pad] = 0
    return input_ids, attention_mask


def window_logits(model, sequence: torch.Tensor, schedule: LatentSchedule) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token logits and last hidden state from a plain forward pass over the schedule's window."""
    inputs = step_inputs(schedule, sequence, use_cache=False)
    with torch.no_grad():
        out = model.backend_model(**inputs.as_kwargs())
    return out.logits[:, -1], out.last_hidden_state


# ---------------------------------------------------------------------------------------------------------------------
# greedy: cached == uncached == the backend loop, in every phase
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, num_latents, num_pad",
    [(3, 2, 0), (6, 6, 0), (10, 4, 0), (10, 4, 3), (18, 6, 2)],
    ids=["shorter", "equal", "longer", "left-padded", "near-max-seq-len-padded"],
)
def test_greedy_cached_equals_uncached(n, num_latents, num_pad):
    model = tiny_model()
    input_ids, attention_mask = prompt(n=n, num_pad=num_pad)
    outputs = {
        use_cache: model.generate(
            input_ids,
            attention_mask=attention_mask,
            num_latents=num_latents,
            max_new_tokens=30,  # past max_seq_len 24, through several refills
            use_cache=use_cache,
            pad_token_id=0,
            output_logits=True,
            return_dict_in_generate=True,
        )
        for use_cache in (True, False)
    }
    assert torch.equal(outputs[True].sequences, outputs[False].sequences)
    cached, uncached = torch.stack(outputs[True].logits, 1), torch.stack(outputs[False].logits, 1)
    torch.testing.assert_close(cached, uncached, atol=1e-5, rtol=0)
    # the same as the backend's own loop (no transformers in it)
    backend = generate_greedy(model.backend_model, input_ids, 30, num_latents, pad_mask=attention_mask == 0)
    assert torch.equal(backend.sequences, outputs[True].sequences)
    torch.testing.assert_close(backend.logits, cached, atol=1e-5, rtol=0)


def test_refill_latents_is_configurable_and_exact():
    model = tiny_model()
    input_ids, _ = prompt(n=8)
    a = model.generate(input_ids, num_latents=3, max_new_tokens=20, refill_latents=5, use_cache=True)
    b = model.generate(input_ids, num_latents=3, max_new_tokens=20, refill_latents=5, use_cache=False)
    assert torch.equal(a, b)
    expected = generate_greedy(model.backend_model, input_ids, 20, 3, refill_latents=5).sequences
    assert torch.equal(a, expected)


# ---------------------------------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------------------------------


def test_sampling_is_reproducible_under_a_seed_with_and_without_cache():
    model = tiny_model()
    input_ids, attention_mask = prompt(num_pad=2)
    kwargs = dict(attention_mask=attention_mask, num_latents=4, max_new_tokens=25, do_sample=True, pad_token_id=0)
    kwargs |= dict(temperature=0.8, top_k=10, top_p=0.9)
    runs = []
    for use_cache in (True, True, False):
        torch.manual_seed(123)
        runs.append(model.generate(input_ids, use_cache=use_cache, **kwargs))
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    torch.manual_seed(7)
    assert not torch.equal(model.generate(input_ids, use_cache=True, **kwargs), runs[0])


def test_sampling_with_top_k_1_is_greedy():
    model = tiny_model()
    input_ids, _ = prompt()
    greedy = model.generate(input_ids, num_latents=4, max_new_tokens=15)
    sampled = model.generate(input_ids, num_latents=4, max_new_tokens=15, do_sample=True, top_k=1)
    assert torch.equal(greedy, sampled)


def test_temperature_top_k_and_top_p_shape_the_scores():
    model = tiny_model()
    input_ids, _ = prompt(batch=1)
    kwargs = dict(num_latents=4, max_new_tokens=1, do_sample=True, output_scores=True, return_dict_in_generate=True)
    out = model.generate(input_ids, temperature=0.5, top_k=0, top_p=1.0, **kwargs)
    logits, _ = window_logits(model, input_ids, LatentSchedule.create(24, 6, 10, 4))
    torch.testing.assert_close(out.scores[0], logits / 0.5, atol=1e-5, rtol=0)

    out = model.generate(input_ids, top_k=5, top_p=1.0, **kwargs)
    kept = torch.isfinite(out.scores[0][0]).nonzero().flatten()
    assert set(kept.tolist()) == set(logits[0].topk(5).indices.tolist())

    out = model.generate(input_ids, top_k=0, top_p=0.5, **kwargs)
    probs = logits[0].softmax(-1)
    order = probs.argsort(descending=True)
    nucleus = (probs[order].cumsum(0) - probs[order] < 0.5).sum().item()  # smallest prefix reaching 0.5
    assert set(torch.isfinite(out.scores[0][0]).nonzero().flatten().tolist()) == set(order[:nucleus].tolist())


def test_num_return_sequences_with_sampling_and_cache():
    model = tiny_model()
    input_ids, attention_mask = prompt(num_pad=3)
    torch.manual_seed(0)
    out = model.generate(
        input_ids, attention_mask=attention_mask, num_latents=4, max_new_tokens=20, do_sample=True,
        num_return_sequences=3, pad_token_id=0,
    )  # fmt: skip
    assert out.shape == (6, 30)
    assert torch.equal(out[:3, :10], input_ids[:1].expand(3, -1))


# ---------------------------------------------------------------------------------------------------------------------
# beam search
# ---------------------------------------------------------------------------------------------------------------------


def test_beam_search_returns_the_best_beam():
    model = tiny_model()
    input_ids, _ = prompt(batch=1)
    schedule = LatentSchedule.create(24, 6, 10, 4)
    out = model.generate(
        input_ids, num_latents=4, max_new_tokens=2, num_beams=3, num_return_sequences=3,
        output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip
    # brute force: the 3 most probable first tokens, each with every second token
    logits, _ = window_logits(model, input_ids, schedule)
    first = logits.log_softmax(-1)[0]
    candidates = []
    for t1 in first.topk(3).indices.tolist():
        seq = torch.cat([input_ids, torch.tensor([[t1]])], dim=1)
        second = window_logits(model, seq, schedule)[0].log_softmax(-1)[0]
        for t2 in range(VOCAB):
            candidates.append(((first[t1] + second[t2]).item(), [t1, t2]))
    candidates.sort(reverse=True)
    assert out.sequences[0, 10:].tolist() == candidates[0][1]
    assert [s[10:].tolist() for s in out.sequences] == [c[1] for c in candidates[:3]]
    # default length_penalty 1.0 divides the summed log-probabilities by the generated length
    expected_scores = torch.tensor([c[0] for c in candidates[:3]]) / 2
    torch.testing.assert_close(out.sequences_scores, expected_scores, atol=1e-5, rtol=0)


def test_beam_search_cached_equals_uncached_through_refills():
    model = tiny_model()
    input_ids, attention_mask = prompt(num_pad=2)
    kwargs = dict(attention_mask=attention_mask, num_latents=4, max_new_tokens=25, num_beams=3, pad_token_id=0)
    assert torch.equal(
        model.generate(input_ids, use_cache=True, **kwargs), model.generate(input_ids, **kwargs | {"use_cache": False})
    )


# ---------------------------------------------------------------------------------------------------------------------
# contrastive search
# ---------------------------------------------------------------------------------------------------------------------


def naive_contrastive_search(model, input_ids, num_latents, steps, alpha, k):
    schedule = LatentSchedule.create(24, 6, input_ids.shape[1], num_latents)
    logits, context = window_logits(model, input_ids, schedule)
    context = context[0]
    seq = input_ids
    for _ in range(steps):
        probs = logits[0].softmax(-1)
        best, best_score = None, None
        for token in probs.topk(k).indices.tolist():
            cand = torch.cat([seq, torch.tensor([[token]])], dim=1)
            cand_logits, hidden = window_logits(model, cand, schedule)
            h = hidden[0, -1]
            sim = torch.nn.functional.cosine_similarity(context, h[None], dim=-1).max()
            score = (1 - alpha) * probs[token] - alpha * sim
            if best_score is None or score > best_score:
                best, best_score, best_logits, best_hidden = token, score, cand_logits, h
        seq = torch.cat([seq, torch.tensor([[best]])], dim=1)
        context = torch.cat([context, best_hidden[None]])
        logits = best_logits
    return seq


def test_contrastive_search_matches_a_naive_implementation_with_and_without_cache():
    model = tiny_model()
    input_ids, _ = prompt(batch=1)
    expected = naive_contrastive_search(model, input_ids, num_latents=4, steps=12, alpha=0.6, k=4)
    for use_cache in (True, False):
        out = model.generate(
            input_ids, num_latents=4, max_new_tokens=12, penalty_alpha=0.6, top_k=4, use_cache=use_cache
        )
        assert torch.equal(out, expected)


def test_contrastive_search_batch_cached_equals_uncached():
    model = tiny_model()
    input_ids, attention_mask = prompt(num_pad=3)
    kwargs = dict(attention_mask=attention_mask, num_latents=4, max_new_tokens=25, penalty_alpha=0.5, top_k=3)
    cached = model.generate(input_ids, use_cache=True, pad_token_id=0, **kwargs)
    uncached = model.generate(input_ids, use_cache=False, pad_token_id=0, **kwargs)
    assert torch.equal(cached, uncached)
    assert not torch.equal(cached, model.generate(input_ids, max_new_tokens=25, num_latents=4))


# ---------------------------------------------------------------------------------------------------------------------
# logits processors, stopping, streaming
# ---------------------------------------------------------------------------------------------------------------------


def test_repetition_penalty_avoids_repeats():
    model = tiny_model()
    input_ids, _ = prompt(batch=1, n=5)
    out = model.generate(input_ids, num_latents=2, max_new_tokens=20, repetition_penalty=1e6)
    tokens = out[0].tolist()
    assert len(set(tokens[5:])) == 20 and not set(tokens[:5]) & set(tokens[5:])
    assert len(set(model.generate(input_ids, num_latents=2, max_new_tokens=20)[0, 5:].tolist())) < 20


def test_eos_stops_a_row_and_pads_it():
    model = tiny_model()
    input_ids, _ = prompt()
    greedy = model.generate(input_ids, num_latents=4, max_new_tokens=12)
    eos = greedy[0, 13].item()  # the first row's 4th new token
    out = model.generate(input_ids, num_latents=4, max_new_tokens=12, eos_token_id=eos, pad_token_id=0)
    row = out[0, 10:].tolist()
    stop = row.index(eos)
    assert stop <= 3 and torch.equal(out[0, : 11 + stop], greedy[0, : 11 + stop])
    assert all(t == 0 for t in row[stop + 1 :])
    if eos not in greedy[1, 10:].tolist():
        assert torch.equal(out[1], greedy[1])


def test_max_new_tokens_and_streamer():
    class Collect(BaseStreamer):
        def __init__(self):
            self.chunks, self.ended = [], False

        def put(self, value):
            self.chunks.append(value.clone())

        def end(self):
            self.ended = True

    model = tiny_model()
    input_ids, _ = prompt(batch=1)
    for kwargs in ({}, {"penalty_alpha": 0.6, "top_k": 4}):
        streamer = Collect()
        out = model.generate(input_ids, num_latents=4, max_new_tokens=7, streamer=streamer, **kwargs)
        assert out.shape == (1, 17) and streamer.ended
        streamed = torch.cat([c.reshape(-1) for c in streamer.chunks[1:]]) if kwargs == {} else None
        if streamed is not None:
            assert torch.equal(streamer.chunks[0].reshape(-1), input_ids[0])
            assert torch.equal(streamed, out[0, 10:])
        else:
            assert torch.equal(torch.cat([c.reshape(-1) for c in streamer.chunks[1:]]), out[0, 10:])


def test_token_type_ids_from_tokenizers_are_accepted():
    model = tiny_model()
    input_ids, attention_mask = prompt(num_pad=2)
    expected = model.generate(input_ids, attention_mask=attention_mask, num_latents=4, max_new_tokens=5)
    out = model.generate(
        input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids), num_latents=4,
        max_new_tokens=5,
    )  # fmt: skip
    assert torch.equal(out, expected)
