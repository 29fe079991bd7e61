"""Continue a Bach chorale with a Perceiver AR symbolic audio model (the ``symbolic-audio-generation`` pipeline).

    python examples/inference/symbolic_audio_generation.py          # krasserm/perceiver-ar-sam-giant-midi
    python examples/inference/symbolic_audio_generation.py --model out/demo-music/hf  # a model of your own
    python examples/inference/symbolic_audio_generation.py --tiny   # offline: a small random model

The prompt is the opening of a chorale from music21's corpus (offline), or ``--prompt file.mid``.
"""

import argparse
import tempfile
from pathlib import Path

import pretty_midi
from transformers import pipeline

from perceiver.data.audio import PAD_TOKEN_ID, load_midi
from perceiver.data.audio.bach_chorales import chorale_to_midi
from perceiver.model.audio.symbolic import (
    PerceiverSymbolicAudioModel,
    PerceiverSymbolicAudioModelConfig,
    SymbolicAudioModelConfig,
)


def tiny_model() -> str:
    config = SymbolicAudioModelConfig(max_seq_len=256, max_latents=64, num_channels=64, num_heads=4,
                                      num_self_attention_layers=2, output_norm=True)  # fmt: skip
    path = tempfile.mkdtemp(prefix="tiny-sam-")
    PerceiverSymbolicAudioModel(PerceiverSymbolicAudioModelConfig(config)).save_pretrained(path)
    return path


def main(argv: list[str] | None = None) -> pretty_midi.PrettyMIDI:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="krasserm/perceiver-ar-sam-giant-midi", help="hub id or folder")
    parser.add_argument("--tiny", action="store_true", help="a small random model (offline)")
    parser.add_argument("--prompt", default=None, help="a MIDI file (default: the opening of BWV 66.6)")
    parser.add_argument("--prompt_tokens", type=int, default=64, help="prompt length in tokens")
    parser.add_argument("--max_new_tokens", type=int, default=128)
    parser.add_argument("--output", default="continuation.mid")
    args = parser.parse_args(argv)

    prompt = load_midi(args.prompt if args.prompt else chorale_to_midi("bach/bwv66.6"))
    generator = pipeline("symbolic-audio-generation", model=tiny_model() if args.tiny else args.model)
    result = generator(
        prompt,
        max_prompt_length=args.prompt_tokens,
        max_new_tokens=args.max_new_tokens,
        num_latents=min(args.prompt_tokens, generator.model.config.backend_config.max_latents),
        do_sample=True,
        top_p=0.95,
        pad_token_id=PAD_TOKEN_ID,
    )
    midi = result["generated_audio_midi"]  # the prompt followed by the continuation
    midi.write(args.output)
    notes = [n for instrument in midi.instruments for n in instrument.notes]
    print(f"wrote {Path(args.output).resolve()}: {len(notes)} notes, {midi.get_end_time():.1f} s")
    return midi


if __name__ == "__main__":
    main()
