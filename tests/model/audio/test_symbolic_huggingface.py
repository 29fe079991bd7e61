import os
import stat
from pathlib import Path

import pretty_midi
import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, pipeline

from perceiver.data.audio import encode_midi
from perceiver.model.audio.symbolic import (
    PerceiverSymbolicAudioModel,
    PerceiverSymbolicAudioModelConfig,
    ReturnType,
    SymbolicAudioModel,
    SymbolicAudioModelConfig,
    SymbolicAudioPipeline,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "symbolic_audio"


@pytest.fixture(scope="module")
def hf_model():
    return AutoModelForCausalLM.from_pretrained(FIXTURE / "hf").eval()


@pytest.fixture(scope="module")
def generator(hf_model):
    return pipeline("symbolic-audio-generation", model=hf_model, device="cpu")


def make_prompt(pitches=(60, 64, 67, 72), step=0.25) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(80, p, i * step, (i + 1) * step) for i, p in enumerate(pitches)]
    midi.instruments.append(inst)
    return midi


def test_auto_classes_load_reference_folder(hf_model):
    assert isinstance(hf_model, PerceiverSymbolicAudioModel)
    assert isinstance(hf_model.backend_model, SymbolicAudioModel)
    config = AutoConfig.from_pretrained(FIXTURE / "hf")
    assert isinstance(config, PerceiverSymbolicAudioModelConfig)
    assert config.model_type == "perceiver-ar-symbolic-audio-model"
    assert config.backend_config == SymbolicAudioModelConfig(
        vocab_size=389, max_seq_len=64, max_latents=16, num_channels=32, num_heads=4, num_self_attention_layers=2
    )


def test_reference_hf_logits(hf_model):
    io = torch.load(FIXTURE / "io.pt")
    with torch.no_grad():
        out = hf_model(io["inputs"], prefix_len=io["prefix_len"], attention_mask=io["attention_mask"])
    torch.testing.assert_close(out.logits, io["hf_logits"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", ["no_padding", "left_padded"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_reference_generations(hf_model, case, use_cache):
    """Greedy generation with and without cache reproduces the reference package's tokens."""
    ref = torch.load(FIXTURE / "generate.pt")[case]
    out = hf_model.generate(
        ref["input_ids"],
        attention_mask=ref["attention_mask"],
        max_new_tokens=ref["max_new_tokens"],
        num_latents=ref["num_latents"],
        do_sample=False,
        use_cache=use_cache,
        pad_token_id=0,
    )
    assert torch.equal(out, ref["output_use_cache_true"])


def test_save_and_reload(tmp_path, hf_model):
    hf_model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    x = torch.randint(0, 388, (1, 30))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x).logits, hf_model(x).logits, atol=0, rtol=0)


def test_pipeline_token_ids_one_prompt(generator):
    prompt = make_prompt()
    prompt_ids = encode_midi(prompt)
    out = generator(prompt, max_new_tokens=10, num_latents=4, return_type=ReturnType.TENSORS)
    assert isinstance(generator, SymbolicAudioPipeline)
    assert len(out["generated_token_ids"]) == len(prompt_ids) + 10
    assert out["generated_token_ids"][: len(prompt_ids)] == prompt_ids
    new = generator(prompt, max_new_tokens=10, num_latents=4, return_type=ReturnType.TENSORS, return_full_audio=False)
    # greedy decoding: the continuation is the tail of the full output
    assert new["generated_token_ids"] == out["generated_token_ids"][len(prompt_ids) :]


def test_pipeline_several_prompts_and_max_prompt_length(generator):
    prompts = [make_prompt(), make_prompt((50, 52, 53, 55, 57, 59))]
    outs = generator(prompts, max_new_tokens=7, return_type=ReturnType.TENSORS)
    assert [len(o["generated_token_ids"]) for o in outs] == [len(encode_midi(p)) + 7 for p in prompts]
    out = generator(prompts[1], max_prompt_length=5, max_new_tokens=7, return_type=ReturnType.TENSORS)
    assert len(out["generated_token_ids"]) == 12
    assert out["generated_token_ids"][:5] == encode_midi(prompts[1])[:5]


def test_pipeline_generate_options_pass_through(generator):
    outs = generator(
        make_prompt(), max_new_tokens=6, do_sample=True, top_k=5, num_return_sequences=3, return_type=ReturnType.TENSORS
    )
    assert len(outs) == 3 and all(len(o["generated_token_ids"]) == len(encode_midi(make_prompt())) + 6 for o in outs)


def test_pipeline_audio_output(generator):
    out = generator(make_prompt(), max_new_tokens=20)
    midi = out["generated_audio_midi"]
    assert isinstance(midi, pretty_midi.PrettyMIDI)
    # the prompt's notes come back (the full audio includes the prompt)
    starts = [(n.pitch, round(n.start, 2)) for n in midi.instruments[0].notes]
    assert [(60, 0.0), (64, 0.25), (67, 0.5), (72, 0.75)] == [s for s in starts if s[1] < 1.0][:4]


def test_pipeline_bad_inputs(generator, tmp_path):
    with pytest.raises(ValueError, match="max_prompt_length must be a positive int, got 0"):
        generator(make_prompt(), max_prompt_length=0)
    with pytest.raises(TypeError, match="prompt must be a pretty_midi.PrettyMIDI, got str"):
        generator("song.mid")
    with pytest.raises(ValueError, match="prompt contains no notes"):
        generator(pretty_midi.PrettyMIDI())
    with pytest.raises(TypeError, match="return_type must be a ReturnType"):
        generator(make_prompt(), return_type="tensors")
    with pytest.raises(ValueError, match="sf2_path .* is not a file"):
        generator(make_prompt(), sf2_path=tmp_path / "missing.sf2")


def test_render_without_fluidsynth(generator, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="render=True needs the fluidsynth command on PATH"):
        generator(make_prompt(), max_new_tokens=2, render=True)


def test_render_with_fluidsynth_command(generator, tmp_path, monkeypatch):
    """A stand-in fluidsynth on PATH checks the command line and writes the WAV file named after -F."""
    script = tmp_path / "fluidsynth"
    script.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "-F" ]; do shift; done\n'
        'out="$2"; shift 2\n'
        '[ "$1" = "-r" ] && shift 2\n'
        '[ -f "$1" ] && [ -f "$2" ] || exit 3\n'
        'printf "RIFF-fake-wav" > "$out"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    out = generator(make_prompt(), max_new_tokens=4, render=True)
    assert out["generated_audio_wav"] == b"RIFF-fake-wav"


@pytest.mark.slow
@pytest.mark.parametrize("num_latents", [1, 16])
def test_cached_equals_uncached_beyond_max_seq_len(hf_model, num_latents):
    """Greedy continuation past max_seq_len (64): latents grow, refill and the window slides in both paths."""
    prompt = torch.randint(0, 388, (2, 30), generator=torch.Generator().manual_seed(1))
    kwargs = dict(max_new_tokens=60, num_latents=num_latents, do_sample=False, pad_token_id=388)
    cached = hf_model.generate(prompt, use_cache=True, **kwargs)
    uncached = hf_model.generate(prompt, use_cache=False, **kwargs)
    assert cached.shape == (2, 90)
    assert torch.equal(cached, uncached)


def test_pipeline_prompt_longer_than_model(generator):
    long_prompt = make_prompt(tuple(range(40, 90)), step=0.1)  # 150 tokens > max_seq_len 64
    with pytest.raises(ValueError, match=r"Input sequence length out of valid range \[1..64\]"):
        generator(long_prompt, max_new_tokens=2)
    out = generator(long_prompt, max_prompt_length=64, num_latents=16, max_new_tokens=2, return_type=ReturnType.TENSORS)
    assert len(out["generated_token_ids"]) == 66


def test_generate_pads_with_midi_pad_id_by_default(hf_model, monkeypatch):
    from perceiver.model.core.huggingface import PerceiverCausalSequenceModel

    seen = []
    original = PerceiverCausalSequenceModel.generate

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("pad_token_id"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PerceiverCausalSequenceModel, "generate", spy)
    prompt = torch.tensor([[388, 388, 60, 300, 188], [62, 64, 300, 190, 192]])
    out = hf_model.generate(prompt, attention_mask=(prompt != 388).long(), max_new_tokens=3, num_latents=2)
    hf_model.generate(prompt[1:], max_new_tokens=1, pad_token_id=7)
    assert out.shape == (2, 8) and seen == [388, 7]
