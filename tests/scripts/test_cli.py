"""The training CLIs: every example config parses; a fit stopped mid-epoch resumes from last.ckpt."""

import importlib
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).parents[2] / "examples" / "training"
SCRIPTS = {
    "clm": "perceiver.scripts.text.clm",
    "mlm": "perceiver.scripts.text.mlm",
    "txt_clf": "perceiver.scripts.text.classifier",
    "img_clf": "perceiver.scripts.vision.image_classifier",
}
# Text and vision examples (audio examples have their own tests).
CONFIGS = sorted(c for c in EXAMPLES.rglob("*.yaml") if c.parent.name in SCRIPTS)


def test_every_example_folder_has_configs():
    assert {c.parent.name for c in CONFIGS} == set(SCRIPTS)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_config_parses(config, capsys):
    script = importlib.import_module(SCRIPTS[config.parent.name])
    with pytest.raises(SystemExit) as exit_info:
        script.main(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (None, 0)
    printed = capsys.readouterr().out
    assert "trainer:" in printed and "model:" in printed and "optimizer:" in printed
    assert "ModelCheckpoint" in printed and "LearningRateMonitor" in printed  # defaults from trainer.yaml


def clm_args(tmp_path, max_steps, *extra):
    return [
        "fit",
        "--data=PydocTextDataModule",
        f"--data.dataset_dir={tmp_path / 'data'}",
        "--data.task=clm",
        "--data.max_seq_len=32",
        "--data.padding_side=left",
        "--data.batch_size=4",
        "--data.num_workers=0",
        "--model.max_latents=8",
        "--model.num_channels=16",
        "--model.num_heads=2",
        "--model.num_self_attention_layers=1",
        "--optimizer=AdamW",
        "--optimizer.lr=1e-3",
        "--lr_scheduler.warmup_steps=2",
        f"--trainer.max_steps={max_steps}",
        "--trainer.val_check_interval=2",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={tmp_path / 'logs'}",
        *extra,
    ]


@pytest.mark.slow
def test_clm_fit_links_and_resume_from_last_checkpoint(tmp_path):
    from perceiver.scripts.lrs import CosineWithWarmupLR
    from perceiver.scripts.text.clm import main

    cli = main(clm_args(tmp_path, 4))
    model, trainer = cli.model, cli.trainer
    # links: vocabulary size and sequence length from the data module, max_steps into the schedule
    assert model.hparams.vocab_size == 262 and model.hparams.max_seq_len == 32
    scheduler = trainer.lr_scheduler_configs[0]
    assert isinstance(scheduler.scheduler, CosineWithWarmupLR) and scheduler.interval == "step"
    assert scheduler.scheduler.training_steps == 4
    assert trainer.global_step == 4
    assert len(cli.datamodule.train_dataloader()) > 4  # stopped mid-epoch

    checkpoints = Path(trainer.checkpoint_callback.dirpath)
    last = checkpoints / "last.ckpt"
    assert last.exists() and len(list(checkpoints.glob("epoch=*-val_loss=*.ckpt"))) == 1
    assert torch.load(last, weights_only=True)["global_step"] == 4

    resumed = main(clm_args(tmp_path, 6, f"--ckpt_path={last}"))
    assert resumed.trainer.global_step == 6
    assert resumed.trainer.lr_scheduler_configs[0].scheduler.last_epoch == 6


@pytest.mark.slow
def test_image_classifier_cli_links_image_shape_and_classes(tmp_path):
    from perceiver.scripts.vision.image_classifier import main

    cli = main(
        [
            "fit",
            "--config",
            str(EXAMPLES / "img_clf" / "digits.yaml"),
            "--trainer.max_steps=2",
            "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={tmp_path}",
        ]
    )
    assert cli.model.encoder_config.image_shape == (8, 8, 1)
    assert cli.model.decoder_config.num_classes == 10
    assert cli.trainer.global_step == 2


def test_text_preproc_script(tmp_path, capsys):
    from perceiver.scripts.text.preproc import main

    dm = main(["pydoc", "--task=clm", "--max_seq_len=64", f"--dataset_dir={tmp_path}"])
    assert dm.preproc_dir.exists() and str(dm.preproc_dir) in capsys.readouterr().out
