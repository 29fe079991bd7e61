"""``make demo``: the schedule, the precision policy, the clean console and short runs of both demos end to end."""

import math

import pytest

from perceiver.demo import main, parse_args
from perceiver.demo_support import CosineSchedule, cpu_has_native_bf16, default_precision


def test_cosine_schedule_follows_steps_or_time_whichever_is_faster(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("perceiver.demo_support.time.monotonic", lambda: clock[0])
    schedule = CosineSchedule(lr=1.0, steps=100, minutes=1.0, warmup_steps=4, min_fraction=0.1)
    schedule.on_train_start(None, None)
    assert [schedule.factor(s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])

    def cosine(progress: float) -> float:
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    clock[0] = 115.0  # a quarter of the time, half of the steps: steps lead
    assert schedule.factor(50) == pytest.approx(cosine(0.5))
    clock[0] = 145.0  # three quarters of the time, a fifth of the steps: time leads
    assert schedule.factor(20) == pytest.approx(cosine(0.75))
    clock[0] = 200.0
    assert schedule.factor(30) == pytest.approx(0.1)

    steps_only = CosineSchedule(lr=1.0, steps=100, minutes=None, warmup_steps=0, min_fraction=0.0)
    steps_only.on_train_start(None, None)
    clock[0] = 1e6
    assert steps_only.factor(25) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))  # the clock is ignored


def test_precision_policy(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert cpu_has_native_bf16(str(cpuinfo))
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f avx512bw\n")
    assert not cpu_has_native_bf16(str(cpuinfo))
    assert not cpu_has_native_bf16(str(tmp_path / "missing"))  # no /proc (macOS, Windows): fp32

    monkeypatch.setattr("perceiver.demo_support.cpu_has_native_bf16", lambda: True)
    assert default_precision("cpu") == "bf16-mixed"
    monkeypatch.setattr("perceiver.demo_support.cpu_has_native_bf16", lambda: False)
    assert default_precision("cpu") == "32-true"
    assert parse_args(["--precision=bf16-mixed"]).precision == "bf16-mixed"  # the override
    assert parse_args([]).precision == "32-true"


def test_defaults_and_bad_budgets():
    clm, digits = parse_args([]), parse_args(["digits"])
    assert (clm.task, clm.steps, clm.minutes, clm.num_channels, clm.max_latents) == ("clm", 1000, None, 192, 128)
    assert (digits.task, digits.minutes) == ("digits", 3.0)
    for bad in (["--steps=0"], ["--minutes=-1"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_short_clm_demo_prints_cleanly_exports_and_draws_the_curve(tmp_path, capsys):
    tiny = ["--num-channels=32", "--num-layers=1", "--max-seq-len=64", "--max-latents=16", "--batch-size=4",
            "--sample-tokens=8"]  # fmt: skip
    result = main(["--steps=4", f"--output-dir={tmp_path}", "--val-every=4", "--precision=32-true", *tiny])
    out = capsys.readouterr().out
    assert math.isfinite(result["val_loss"]) and result["steps"] == 4 and len(result["history"]) == 2
    assert "validation val_loss" in out and "final val_loss" in out and "Sample (prompt" in out
    assert "it/s" not in out and "GPU available" not in out  # no progress bar, no Lightning banners
    assert (result["hf_dir"] / "config.json").exists() and (result["hf_dir"] / "tokenizer_config.json").exists()
    assert result["loss_curve"].exists() and result["loss_curve"].stat().st_size > 1000
    assert list((tmp_path / "logs").rglob("last.ckpt"))
    from transformers import AutoTokenizer

    import perceiver.model.text.clm  # noqa: F401

    tokenizer = AutoTokenizer.from_pretrained(result["hf_dir"])  # prompts as in training: no [CLS]/[SEP] around them
    assert tokenizer("ab")["input_ids"] == [ord("a") + 6, ord("b") + 6] and tokenizer.padding_side == "left"


@pytest.mark.slow
def test_short_digits_demo(tmp_path):
    result = main(["digits", "--minutes=0.1", f"--output-dir={tmp_path}", "--num-layers=1"])
    assert 0.0 <= result["val_acc"] <= 1.0 and result["num_params"] > 0
