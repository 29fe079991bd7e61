"""Fuzzing the symbolic-audio entry points: MIDI token decoding and encoding, the collator, and the
symbolic-audio-generation pipeline."""

import numpy as np
import pretty_midi
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from perceiver.data.audio import PAD_TOKEN_ID, VOCAB_SIZE, SymbolicAudioCollator, decode_midi, encode_midi
from tests.hardening import zoo
from tests.hardening.fuzz import PROFILES, call

TOKEN_LISTS = st.lists(st.integers(-2, VOCAB_SIZE + 2), max_size=40) | st.lists(
    st.integers(0, VOCAB_SIZE - 1), max_size=60
)


@st.composite
def midis(draw):
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=draw(st.integers(0, 127)))
    for _ in range(draw(st.integers(1, 5) | st.just(0))):
        start = draw(st.floats(0, 4, allow_nan=False))
        length = draw(st.floats(0.05, 2, allow_nan=False) | st.just(0.0))
        instrument.notes.append(
            pretty_midi.Note(draw(st.integers(1, 127)), draw(st.integers(0, 127)), start, start + length)
        )
    midi.instruments.append(instrument)
    return midi


@PROFILES
def test_fuzz_decode_and_encode_midi(profile):
    @settings(settings.get_profile(profile))
    @given(ids=TOKEN_LISTS, as_array=st.booleans(), program=st.integers(-1, 128))
    def run(ids, as_array, program):
        source = np.asarray(ids, dtype=np.int64) if as_array else ids
        midi = call("decode_midi", lambda: decode_midi(source, program=program))
        if midi is None:
            return
        assert all(0 <= i < VOCAB_SIZE for i in ids) and 0 <= program < 128
        tokens = call("encode_midi", lambda: encode_midi(midi))
        assert tokens is not None and all(0 <= t < VOCAB_SIZE for t in tokens)

    run()


@PROFILES
def test_fuzz_encode_random_midi(profile):
    @settings(settings.get_profile(profile))
    @given(midi=midis())
    def run(midi):
        tokens = call("encode_midi", lambda: encode_midi(midi))
        if tokens is not None:
            assert all(0 <= t < VOCAB_SIZE for t in tokens)
            call("decode_midi", lambda: decode_midi(tokens))

    run()


@PROFILES
def test_fuzz_collator(profile):
    @settings(settings.get_profile(profile))
    @given(
        lengths=st.lists(st.integers(0, 20), min_size=1, max_size=4),
        max_seq_len=st.integers(1, 12),
        side=st.sampled_from(["left", "right"]),
    )
    def run(lengths, max_seq_len, side):
        collate = SymbolicAudioCollator(max_seq_len, padding_side=side)
        windows = [torch.randint(0, PAD_TOKEN_ID, (n,)) for n in lengths]
        out = call("SymbolicAudioCollator.__call__", lambda: collate(windows))
        if out is not None:
            labels, input_ids, pad_mask = out
            assert labels.shape == input_ids.shape == pad_mask.shape == (len(lengths), max_seq_len)
            assert torch.equal(pad_mask, input_ids == PAD_TOKEN_ID)

    run()


@PROFILES
def test_fuzz_symbolic_audio_pipeline(profile):
    from transformers import pipeline

    from perceiver.model.audio.symbolic import ReturnType

    generator = pipeline("symbolic-audio-generation", model=zoo.audio(), device="cpu")

    @settings(settings.get_profile(profile))
    @given(
        midi=midis(),
        max_new_tokens=st.integers(1, 5) | st.sampled_from([0, -1]),
        max_prompt_length=st.one_of(st.integers(1, zoo.SEQ - 6), st.none(), st.integers(-1, zoo.SEQ + 2)),
        num_latents=st.integers(1, 4) | st.sampled_from([0, 99]),
    )
    def run(midi, max_new_tokens, max_prompt_length, num_latents):
        kwargs = dict(max_new_tokens=max_new_tokens, num_latents=num_latents, return_type=ReturnType.TENSORS)
        if max_prompt_length is not None:
            kwargs["max_prompt_length"] = max_prompt_length
        out = call("pipeline('symbolic-audio-generation')", lambda: generator(midi, **kwargs))
        if out is not None:
            assert all(0 <= t < VOCAB_SIZE for t in out["generated_token_ids"])

    run()
