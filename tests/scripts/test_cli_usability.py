"""What a user of the training CLIs meets: one-line errors with the nearest valid option, the documented logger
flags, a visible and repeatable seed, step metrics in short runs, and a description for every model option."""

import csv
import importlib
import re
from pathlib import Path

import pytest
import yaml

from perceiver.scripts.log_interval import log_interval
from tests.scripts.cli_args import tiny_digits_args

SCRIPTS = [
    "perceiver.scripts.text.clm",
    "perceiver.scripts.text.mlm",
    "perceiver.scripts.text.classifier",
    "perceiver.scripts.vision.image_classifier",
    "perceiver.scripts.audio.symbolic",
]


def first_error_line(args: list[str], capsys, script: str = "perceiver.scripts.vision.image_classifier") -> str:
    main = importlib.import_module(script).main
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.splitlines()[0]


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--model.num_latnets=4"], "error: unknown option model.num_latnets (did you mean model.num_latents?)"),
        (
            ["--data=DigitsDataModul"],
            "error: data: DigitsDataModul is not a known class (did you mean DigitsDataModule",
        ),
        (["--data.batch_sise=3"], "error: data: DigitsDataModule has no option batch_sise (did you mean batch_size?)"),
        (["--optimizer=AdamX"], "error: optimizer: AdamX is not a known class (did you mean Adam?)"),
        (["--trainer.logger=CSVLoger"], "error: trainer.logger: CSVLoger is not a known class (did you mean CSVLogger"),
        (["--model.num_latents=abc"], "error: model.num_latents: expected int, got abc"),
        (["--data.batch_size=0"], "error: DigitsDataModule: batch_size must be > 0, got 0"),
        (["--ckpt_path=missing.ckpt"], "error: ckpt_path: checkpoint file not found: missing.ckpt"),
        (["--config=missing.yaml"], "error: config: File does not exist"),
        (["--ckpt_path=last"], "error: ckpt_path=last: no last.ckpt in or below"),
    ],
    ids=["option", "class", "class-option", "optimizer", "logger", "value", "data-value", "ckpt", "config", "last"],
)
def test_errors_come_first_in_one_line(tmp_path, capsys, extra, expected):
    line = first_error_line([*tiny_digits_args(tmp_path, 1), *extra], capsys)
    assert line.startswith(expected), line


def test_config_file_typo_names_the_nearest_key(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("model:\n  encoder:\n    num_frequency_band: 2\n")
    line = first_error_line([*tiny_digits_args(tmp_path, 1), f"--config={config}"], capsys)
    assert (
        line
        == "error: unknown option model.encoder.num_frequency_band (did you mean model.encoder.num_frequency_bands?)"
    )


def test_schedule_length_follows_max_steps(tmp_path, capsys):
    args = ["fit", "--data=PydocTextDataModule", "--optimizer=AdamW", "--lr_scheduler.training_steps=5"]
    line = first_error_line([*args, "--trainer.max_steps=10"], capsys, "perceiver.scripts.text.clm")
    assert line == 'error: Linked "lr_scheduler.training_steps" must be given via "trainer.max_steps".'


def test_missing_data_file_and_optimizer(tmp_path, capsys):
    from perceiver.scripts.text.classifier import main

    args = ["fit", "--data=LocalTextDataModule", f"--data.train_files=[{tmp_path / 'missing.jsonl'}]"]
    with pytest.raises(SystemExit):
        main([*args, "--data.tokenizer=bytes", "--data.max_seq_len=64", "--optimizer=AdamW"])
    line = capsys.readouterr().err.splitlines()[0]
    assert line.startswith("error: LocalTextDataModule: ") and "missing.jsonl" in line, line
    no_optimizer = [a for a in tiny_digits_args(tmp_path, 1) if not a.startswith("--optimizer")]
    assert first_error_line(no_optimizer, capsys).startswith("error: fit needs an optimizer: add --optimizer=AdamW")


def metrics(root: Path) -> list[dict[str, str]]:
    (path,) = root.rglob("metrics.csv")
    with path.open() as f:
        return list(csv.DictReader(f))


def test_csv_logger_flag_logs_step_metrics_of_a_short_run(tmp_path, caplog):
    from perceiver.scripts.vision.image_classifier import main

    main([*tiny_digits_args(tmp_path, 20), "--trainer.logger=CSVLogger"])  # no save_dir: the default_root_dir
    rows = metrics(tmp_path)
    assert len([r for r in rows if r["train_loss"]]) == 20  # a 20-step run logs every step
    assert len([r for r in rows if r["lr-AdamW"]]) == 20
    assert "Seed set to 0" in caplog.text  # the seed is visible ...
    (config,) = tmp_path.rglob("config.yaml")
    assert yaml.safe_load(config.read_text())["seed_everything"] == 0  # ... and recorded


def test_logger_false_runs_without_the_learning_rate_monitor(tmp_path):
    from perceiver.scripts.vision.image_classifier import main

    cli = main([*tiny_digits_args(tmp_path, 2), "--trainer.logger=false"])
    assert cli.trainer.global_step == 2 and (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_ckpt_path_last_resumes_from_the_newest_last_checkpoint(tmp_path):
    from perceiver.scripts.vision.image_classifier import main

    main(tiny_digits_args(tmp_path, 2))  # logs/lightning_logs/version_0/checkpoints/last.ckpt
    cli = main([*tiny_digits_args(tmp_path, 3), "--ckpt_path=last"])  # a new version folder: Lightning finds nothing
    assert cli.trainer.ckpt_path == str(tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt")
    assert cli.trainer.global_step == 3


def test_seed_true_draws_a_seed_and_records_it(tmp_path):
    from perceiver.scripts.vision.image_classifier import main

    args = tiny_digits_args(tmp_path, 1)[1:]  # without the subcommand: build, do not run
    cli = main([*args, "--seed_everything=true", "--trainer.logger=false"], run=False)
    seed = cli.config["seed_everything"]
    assert isinstance(seed, int) and not isinstance(seed, bool)


def test_log_interval_policy():
    assert [log_interval(n) for n in (1, 20, 49, 100, 1200, 2500, 10**6)] == [1, 1, 1, 2, 24, 50, 50]
    assert log_interval(float("inf")) == 50


def undocumented_options(help_text: str, prefixes: tuple[str, ...] = ("--model.", "--lr_scheduler.")) -> list[str]:
    """Options of ``--help`` whose entry starts with its type (``(type: int ...)``) instead of a description."""
    lines = help_text.splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"^  (--\S+)(?: (\S+))?(?:\s{2,}(.*))?$", line)
        if not match or not match.group(1).startswith(prefixes) or match.group(2) == "CONFIG":
            continue
        description = match.group(3) or (lines[i + 1].strip() if i + 1 < len(lines) else "")
        if not description or description.startswith(("(", "--")):
            missing.append(match.group(1))
    return missing


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.rsplit(".", 1)[1])
def test_every_model_option_has_a_description(script, capsys):
    with pytest.raises(SystemExit):
        importlib.import_module(script).main(["fit", "--help"])
    help_text = capsys.readouterr().out
    assert "--model.num" in help_text  # the model options are there ...
    assert undocumented_options(help_text) == []  # ... and each says what it does
