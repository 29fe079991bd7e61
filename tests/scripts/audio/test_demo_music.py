import json

import pretty_midi
import pytest

from perceiver import demo_music


@pytest.mark.slow
def test_demo_music_tiny_run(tmp_path):
    """The whole demo at toy size: converts 12 chorales, trains a few steps, writes a continuation."""
    output = tmp_path / "out" / "continuation.mid"
    summary = demo_music.main(
        [
            f"--data_dir={tmp_path / 'chorales'}",
            f"--output={output}",
            "--max_chorales=12",
            "--max_steps=6",
            "--val_every=3",
            "--max_seq_len=64",
            "--max_latents=32",
            "--num_channels=32",
            "--num_layers=1",
            "--batch_size=4",
            "--prompt_tokens=40",
            "--new_tokens=48",
        ]
    )
    midi = pretty_midi.PrettyMIDI(str(output))
    assert sum(len(i.notes) for i in midi.instruments) == summary["notes"] > 0
    assert summary["steps"] == 6 and summary["prompt_tokens"] == 40
    assert json.loads(output.with_suffix(".json").read_text()) == summary
    assert summary["val_loss_final"] < summary["val_loss_initial"]
