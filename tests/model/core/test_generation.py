"""The latent schedule and exact KV-cached generation of Perceiver AR (backend level, no Hugging Face)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig
from perceiver.model.core.generation import (
    LatentSchedule,
    check_left_padding,
    default_refill_latents,
    generate_greedy,
    step_inputs,
)

VOCAB = 40


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one thread avoids OpenMP spin-waits on the shared 2-core machine (up to 30x faster here)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model_of(**overrides) -> CausalSequenceModel:
    # init_scale 0.1: logits of order 1 with clear top-1 margins, so greedy tokens are not decided by rounding
    fields = dict(
        vocab_size=VOCAB,
        max_seq_len=24,
        max_latents=6,
        num_channels=16,
        num_heads=2,
        num_self_attention_layers=2,
        init_scale=0.1,
    )
    return CausalSequenceModel(CausalSequenceModelConfig(**(fields | overrides))).eval()


def simulated_windows(max_seq_len, max_latents, prompt_len, num_latents, refill_latents, num_steps):
    """The schedule as a step-by-step state machine (independent of LatentSchedule's closed form): the window's
    start, the first latent column and whether the cached path runs a full pass, for each sequence length."""
    latent_start, start = prompt_len - min(num_latents, prompt_len), 0
    windows = []
    for seq_len in range(prompt_len, prompt_len + num_steps):
        refill = seq_len == prompt_len
        if seq_len - latent_start > max_latents:
            latent_start = seq_len - refill_latents
            start = max(start, latent_start - (max_seq_len - max_latents))
            refill = True
        windows.append((seq_len, start, latent_start - start, refill))
    return windows


# ---------------------------------------------------------------------------------------------------------------------
# schedule
# ---------------------------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    max_latents=st.integers(1, 12),
    max_prefix_len=st.integers(0, 12),
    prompt_len=st.integers(1, 24),
    num_latents=st.integers(1, 12),
    refill=st.integers(1, 12),
)
def test_schedule_matches_state_machine_and_respects_limits(
    max_latents, max_prefix_len, prompt_len, num_latents, refill
):
    max_seq_len = max_latents + max_prefix_len
    num_latents = min(num_latents, max_latents)
    refill = min(refill, max_latents)
    if prompt_len > max_seq_len or prompt_len - min(num_latents, prompt_len) > max_prefix_len:
        return
    schedule = LatentSchedule.create(max_seq_len, max_latents, prompt_len, num_latents, refill)
    for seq_len, start, prefix_len, refill_step in simulated_windows(
        max_seq_len, max_latents, prompt_len, num_latents, refill, 60
    ):
        window = schedule.window(seq_len)
        assert (window.start, window.prefix_len, window.refill) == (start, prefix_len, refill_step)
        latents = seq_len - window.start - window.prefix_len
        assert 1 <= latents <= max_latents
        assert 0 <= window.prefix_len <= max_prefix_len
        assert seq_len - window.start <= max_seq_len


def test_schedule_phases():
    # max_seq_len 12, max_latents 4, prompt 5 with 2 latents, refill to 2: period 3
    schedule = LatentSchedule.create(12, 4, 5, num_latents=2, refill_latents=2)
    w = {n: schedule.window(n) for n in range(5, 30)}
    assert w[5].refill and (w[5].start, w[5].prefix_len) == (0, 3)
    assert [w[n].refill for n in (6, 7)] == [False, False]  # latents 3, 4
    assert w[8].refill and (w[8].start, w[8].prefix_len) == (0, 6)  # 5 latents would exceed 4: refill to 2
    assert w[11].refill and (w[11].start, w[11].prefix_len) == (1, 8)  # prefix capped at max_prefix_len 8: slide
    assert w[14].refill and (w[14].start, w[14].prefix_len) == (4, 8)
    assert schedule.num_refills(14) == 4


def test_default_refill_latents():
    assert default_refill_latents(512) == 384
    assert default_refill_latents(256) == 128
    assert default_refill_latents(16) == 8
    assert default_refill_latents(1) == 1


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
def test_schedule_rejects_bad_prompts_with_reference_messages(seq_len, num_latents, message):
    with pytest.raises(ValueError) as info:
        LatentSchedule.create(12, 6, seq_len, num_latents)
    assert info.value.args[0] == message


def test_schedule_rejects_bad_refill_and_types():
    with pytest.raises(ValueError, match=r"refill_latents=7 out of valid range \[1..6\]"):
        LatentSchedule.create(12, 6, 4, 2, refill_latents=7)
    with pytest.raises(ValueError, match=r"refill_latents=0"):
        LatentSchedule.create(12, 6, 4, 2, refill_latents=0)
    with pytest.raises(TypeError, match="num_latents must be an int, got float"):
        LatentSchedule.create(12, 6, 4, 2.0)
    with pytest.raises(ValueError, match=r"seq_len \(3\) is shorter than the prompt \(4\)"):
        LatentSchedule.create(12, 6, 4, 2).window(3)


def test_left_padding_check():
    check_left_padding(torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]]))
    with pytest.raises(ValueError, match=r"attention_mask must be left-padded .* rows \[1\]"):
        check_left_padding(torch.tensor([[0, 1, 1, 1], [1, 1, 1, 0]]))
    with pytest.raises(ValueError, match="rows \\[0\\]"):
        check_left_padding(torch.tensor([[1, 0, 1, 1]]))


# ---------------------------------------------------------------------------------------------------------------------
# cached == uncached == the schedule's window through a plain forward pass
# ---------------------------------------------------------------------------------------------------------------------


def assert_exact(model, input_ids, max_new_tokens, num_latents, pad_mask=None, refill_latents=None):
    cached = generate_greedy(model, input_ids, max_new_tokens, num_latents, pad_mask, True, refill_latents)
    uncached = generate_greedy(model, input_ids, max_new_tokens, num_latents, pad_mask, False, refill_latents)
    assert torch.equal(cached.sequences, uncached.sequences)
    torch.testing.assert_close(cached.logits, uncached.logits, atol=1e-5, rtol=0)
    return cached


def reference_logits(model, sequences, prompt_len, num_latents, refill_latents, pad_mask=None):
    """Per-step logits from plain forward passes over the state machine's windows."""
    steps = sequences.shape[1] - prompt_len
    windows = simulated_windows(model.max_seq_len, model.max_latents, prompt_len, num_latents, refill_latents, steps)
    logits = []
    for seq_len, start, prefix_len, _ in windows:
        pad = None
        if pad_mask is not None:
            full = torch.cat([pad_mask, pad_mask.new_zeros(pad_mask.shape[0], seq_len - prompt_len)], dim=1)
            pad = full[:, start:seq_len]
        with torch.no_grad():
            out = model(sequences[:, start:seq_len], prefix_len=prefix_len, pad_mask=pad)
        logits.append(out.logits[:, -1])
    return torch.stack(logits, dim=1)


@pytest.mark.parametrize(
    "prompt_len, num_latents",
    [(3, 1), (5, 3), (6, 6), (10, 4), (20, 6)],
    ids=["shorter", "shorter-3", "equal", "longer", "longer-near-max-seq-len"],
)
def test_cached_equals_uncached_in_every_phase(prompt_len, num_latents):
    model = model_of()
    input_ids = torch.randint(0, VOCAB, (2, prompt_len))
    # 40 new tokens: latents grow, refills, and the sequence outgrows max_seq_len (24)
    output = assert_exact(model, input_ids, 40, num_latents)
    expected = reference_logits(model, output.sequences, prompt_len, num_latents, default_refill_latents(6))
    torch.testing.assert_close(output.logits, expected, atol=1e-5, rtol=0)


def test_cached_equals_uncached_left_padded_batch():
    model = model_of()
    input_ids = torch.randint(1, VOCAB, (3, 9))
    pad_mask = torch.zeros(3, 9, dtype=torch.bool)
    pad_mask[1, :3] = True
    pad_mask[2, :6] = True  # some padding inside the first latents
    input_ids[pad_mask] = 0
    output = assert_exact(model, input_ids, 30, 5, pad_mask=pad_mask, refill_latents=2)
    expected = reference_logits(model, output.sequences, 9, 5, 2, pad_mask)
    torch.testing.assert_close(output.logits, expected, atol=1e-5, rtol=0)
    # a padded row predicts what the same prompt without padding predicts while the windows cover the pads
    single = generate_greedy(model, input_ids[1:2, 3:], 4, 5, refill_latents=2)
    torch.testing.assert_close(output.logits[1:2, :4], single.logits, atol=1e-5, rtol=0)


def test_refill_latents_equal_max_latents_refills_every_step():
    model = model_of()
    input_ids = torch.randint(0, VOCAB, (1, 8))
    assert_exact(model, input_ids, 12, 6, refill_latents=6)


def test_cache_buffers_are_reused_and_bounded():
    model = model_of()
    schedule = LatentSchedule.create(24, 6, 10, 4)
    sequences, kv_cache = torch.randint(0, VOCAB, (1, 10)), model.preallocated_kv_cache(1)
    buffers = None
    for _ in range(30):
        inputs = step_inputs(schedule, sequences, kv_cache=kv_cache)
        with torch.no_grad():
            logits = model(**inputs.as_kwargs()).logits
        assert kv_cache[0].length == sequences.shape[1] - schedule.window(sequences.shape[1]).start
        assert kv_cache[0].capacity == 24 and all(c.capacity == 6 for c in kv_cache[1:])
        if buffers is None:
            buffers = [c.k.data_ptr() for c in kv_cache]
        assert [c.k.data_ptr() for c in kv_cache] == buffers  # refills reset, never reallocate
        sequences = torch.cat([sequences, logits[:, -1:].argmax(-1)], dim=1)


@settings(max_examples=25, deadline=None)
@given(
    max_latents=st.integers(1, 6),
    max_prefix_len=st.integers(0, 8),
    num_layers=st.integers(1, 3),
    num_heads=st.sampled_from([1, 2, 4]),
    rotary_layers=st.sampled_from([-1, 0, 1, 2]),
    abs_pos_emb=st.booleans(),
    prompt_len=st.integers(1, 14),
    num_latents=st.integers(1, 6),
    refill=st.integers(1, 6),
    new_tokens=st.integers(1, 24),
    num_pad=st.integers(0, 3),
)
def test_cached_equals_uncached_property(
    max_latents, max_prefix_len, num_layers, num_heads, rotary_layers, abs_pos_emb, prompt_len, num_latents,
    refill, new_tokens, num_pad,
):  # fmt: skip
    max_seq_len = max_latents + max_prefix_len
    prompt_len = min(prompt_len, max_seq_len)
    num_latents = max(min(num_latents, max_latents), prompt_len - max_prefix_len)
    torch.manual_seed(prompt_len * 31 + new_tokens)
    model = model_of(
        max_seq_len=max_seq_len,
        max_latents=max_latents,
        num_self_attention_layers=num_layers,
        num_heads=num_heads,
        num_self_attention_rotary_layers=rotary_layers,
        abs_pos_emb=abs_pos_emb,
    )
    input_ids = torch.randint(0, VOCAB, (2, prompt_len))
    pad_mask = torch.zeros(2, prompt_len, dtype=torch.bool)
    pad_mask[1, : min(num_pad, prompt_len - 1)] = True
    assert_exact(model, input_ids, new_tokens, num_latents, pad_mask, min(refill, max_latents))


def test_generate_greedy_rejects_bad_arguments():
    model = model_of()
    for bad in (-1, 0):
        with pytest.raises(ValueError, match=f"max_new_tokens must be an int >= 1, got {bad}"):
            generate_greedy(model, torch.zeros(1, 3, dtype=torch.long), bad)
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch_size, seq_len\)"):
        generate_greedy(model, torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=r"Input sequence length out of valid range \[1..24\]"):
        generate_greedy(model, torch.zeros(1, 0, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="left-padded"):
        generate_greedy(
            model, torch.zeros(2, 3, dtype=torch.long), 2, pad_mask=torch.tensor([[0, 0, 1], [0, 0, 0]]).bool()
        )


def test_cache_with_cross_attention_dropout_in_training_raises():
    model = model_of(cross_attention_dropout=0.5).train()
    schedule = LatentSchedule.create(24, 6, 10, 2)
    inputs = step_inputs(schedule, torch.randint(0, VOCAB, (1, 10)), kv_cache=model.preallocated_kv_cache(1))
    with pytest.raises(ValueError, match="cross-attention dropout not supported with caching"):
        model(**inputs.as_kwargs())


@pytest.mark.parametrize("kv_cache", [None, []])
def test_cached_steps_need_preallocated_caches(kv_cache):
    schedule = LatentSchedule.create(24, 6, 10, 2)
    with pytest.raises(ValueError, match="preallocated_kv_cache"):
        step_inputs(schedule, torch.randint(0, VOCAB, (1, 10)), kv_cache=kv_cache)
