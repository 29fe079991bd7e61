"""``make demo``: the time-based schedule, and short runs of both demos end to end."""

import math

import pytest

from perceiver.demo import TimeCosineLR, main, parse_args


def test_time_cosine_schedule(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("perceiver.demo.time.monotonic", lambda: clock[0])
    schedule = TimeCosineLR(lr=1.0, minutes=1.0, warmup_steps=4, min_fraction=0.1)
    schedule.on_train_start(None, None)
    assert [schedule.factor(s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    for elapsed in (0.0, 15.0, 30.0, 60.0, 90.0):
        clock[0] = 100.0 + elapsed
        progress = min(1.0, elapsed / 60.0)
        assert schedule.factor(10) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def test_defaults():
    clm, digits = parse_args([]), parse_args(["digits"])
    assert (clm.task, clm.minutes, clm.num_channels, clm.max_latents) == ("clm", 6.5, 192, 128)
    assert (digits.task, digits.minutes) == ("digits", 3.0)


@pytest.mark.slow
def test_short_clm_demo_exports_a_pipeline_folder(tmp_path):
    tiny = ["--num-channels=32", "--max-seq-len=64", "--max-latents=16", "--batch-size=8", "--sample-tokens=8"]
    result = main(["--minutes=0.1", f"--output-dir={tmp_path}", "--val-every=5", *tiny])
    assert math.isfinite(result["val_loss"]) and result["history"]
    assert (result["hf_dir"] / "config.json").exists() and (result["hf_dir"] / "tokenizer_config.json").exists()
    assert list((tmp_path / "logs").rglob("last.ckpt"))
    from transformers import AutoTokenizer

    import perceiver.model.text.clm  # noqa: F401

    tokenizer = AutoTokenizer.from_pretrained(result["hf_dir"])  # prompts as in training: no [CLS]/[SEP] around them
    assert tokenizer("ab")["input_ids"] == [ord("a") + 6, ord("b") + 6] and tokenizer.padding_side == "left"


@pytest.mark.slow
def test_short_digits_demo(tmp_path):
    result = main(["digits", "--minutes=0.1", f"--output-dir={tmp_path}", "--num-layers=1"])
    assert 0.0 <= result["val_acc"] <= 1.0 and result["num_params"] > 0
