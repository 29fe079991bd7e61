"""Resume and extend from the CLI: an interrupted run resumes bit-exactly (the same losses as a run never stopped,
mid-epoch and at an epoch's end); a finished run extended with a larger max_steps keeps learning on a schedule over
the new length."""

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from perceiver.scripts.resume import ResumableDataLoader, ResumableSampler, resumable_loader
from tests.scripts.cli_args import tiny_digits_args


class Recorder(pl.Callback):
    """Records (step, learning rate, loss) of every training step of every run in this process."""

    steps: list[tuple[int, float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._lr = trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        Recorder.steps.append((trainer.global_step, self._lr, float(outputs["loss"])))


class CrashAtStep(pl.Callback):
    """Simulates a crash (a killed job) right before optimizer step ``step + 1``."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash at step {self.step}")


def recorded(run) -> list[tuple[int, float, float]]:
    Recorder.steps = []
    run()
    return list(Recorder.steps)


def digits_args(root: Path, max_steps: int, *extra: str) -> list[str]:
    return [
        *tiny_digits_args(root, max_steps),
        "--data.random_shift=1",  # augmentation draws random numbers
        "--model.encoder.dropout=0.2",  # dropout draws random numbers
        "--trainer.limit_train_batches=6",  # epochs of 6 steps
        "--trainer.val_check_interval=3",  # validation and last.ckpt at steps 3, 6 (epoch end), 9, 12
        "--trainer.logger=false",
        "--trainer.callbacks+=tests.scripts.test_resume.Recorder",
        *extra,
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from perceiver.scripts.vision.image_classifier import main

    steps = recorded(lambda: main(digits_args(tmp_path_factory.mktemp("full"), STEPS)))
    assert [step for step, _, _ in steps] == list(range(1, STEPS + 1))
    return steps


STEPS = 12


@pytest.mark.parametrize("crash_step, checkpoint_step", [(11, 9), (7, 6)], ids=["mid-epoch", "epoch-end"])
def test_interrupted_run_resumes_bit_exactly(tmp_path, uninterrupted, crash_step, checkpoint_step):
    from perceiver.scripts.vision.image_classifier import main

    root = tmp_path / "crashed"
    crash = ["--trainer.callbacks+=tests.scripts.test_resume.CrashAtStep", f"--trainer.callbacks.step={crash_step}"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(digits_args(root, STEPS, *crash))
    checkpoint = root / "checkpoints" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=True)["global_step"] == checkpoint_step
    # another seed (as --seed_everything=true would draw): the checkpoint's random states and data order win
    resumed = recorded(lambda: main(digits_args(root, STEPS, f"--ckpt_path={checkpoint}", "--seed_everything=1")))
    assert resumed == uninterrupted[checkpoint_step:]  # steps, learning rates and losses, bit for bit


def test_epoch_based_run_resumes_bit_exactly_after_a_complete_epoch(tmp_path):
    """By epochs (no max_steps), a checkpoint at an epoch's end: Lightning does not hand the loader its state then.
    The resumed run is given another seed (as ``--seed_everything=true`` would): the checkpoint's states win."""
    from perceiver.scripts.vision.image_classifier import main

    def args(root: Path, *extra: str) -> list[str]:
        by_epochs = [
            a for a in digits_args(root, 0, *extra) if not a.startswith(("--trainer.max_steps", "--trainer.val"))
        ]
        return [*by_epochs, "--trainer.max_epochs=3", "--trainer.limit_train_batches=4"]

    uninterrupted = recorded(lambda: main(args(tmp_path / "full")))
    crash = ["--trainer.callbacks+=tests.scripts.test_resume.CrashAtStep", "--trainer.callbacks.step=6"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(args(tmp_path / "crashed", *crash))
    checkpoint = tmp_path / "crashed" / "checkpoints" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=True)["global_step"] == 4  # the end of epoch 1
    resumed = recorded(lambda: main(args(tmp_path / "crashed", f"--ckpt_path={checkpoint}", "--seed_everything=1")))
    assert [step for step, _, _ in uninterrupted] == list(range(1, 13))
    assert resumed == uninterrupted[4:]


def clm_args(root: Path, data_dir: Path, max_steps: int, *extra: str) -> list[str]:
    return [
        "fit",
        "--data=PydocTextDataModule",
        f"--data.dataset_dir={data_dir}",
        "--data.task=clm",
        "--data.max_seq_len=32",
        "--data.padding_side=left",
        "--data.batch_size=8",
        "--data.num_workers=0",
        "--model.max_latents=8",
        "--model.num_channels=32",
        "--model.num_heads=2",
        "--model.num_self_attention_layers=1",
        "--model.cross_attention_dropout=0.0",
        "--model.init_scale=0.05",
        "--optimizer=AdamW",
        "--optimizer.lr=3e-3",
        "--lr_scheduler.warmup_steps=5",
        f"--trainer.max_steps={max_steps}",
        "--trainer.val_check_interval=20",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.logger=false",
        f"--trainer.default_root_dir={root}",
        "--trainer.callbacks+=tests.scripts.test_resume.Recorder",
        *extra,
    ]


def test_extended_run_keeps_learning(tmp_path):
    from perceiver.scripts.text.clm import main

    first = recorded(lambda: main(clm_args(tmp_path / "run", tmp_path / "data", 20)))
    assert first[-1][1] < 0.02 * first[5][1]  # the cosine reached its end: the learning rate is nearly 0
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    with pytest.warns(UserWarning, match="training_steps 20 -> 50"):
        extended = recorded(lambda: main(clm_args(tmp_path / "run", tmp_path / "data", 50, f"--ckpt_path={last}")))

    assert [step for step, _, _ in extended] == list(range(21, 51))
    lrs = [lr for _, lr, _ in extended]
    assert min(lrs[:-1]) > 0 and lrs[0] > 0.5 * first[5][1]  # on a cosine over 50 steps, not the old end at 0
    mean = lambda losses: sum(losses) / len(losses)  # noqa: E731
    old_end, new_end = [loss for _, _, loss in first[-10:]], [loss for _, _, loss in extended[-10:]]
    assert mean(new_end) < mean(old_end) - 0.1  # the loss keeps falling after the old end


def test_loader_skips_what_a_stopped_epoch_trained_on():
    dataset = list(range(10))
    loader = resumable_loader(torch.utils.data.DataLoader(dataset, batch_size=3, shuffle=True), seed=5)
    assert isinstance(loader, ResumableDataLoader) and len(loader) == 4
    epoch_0 = [batch.tolist() for batch in loader]
    assert sorted(sum(epoch_0, [])) == dataset
    loader.sampler.set_epoch(1)
    epoch_1 = [batch.tolist() for batch in loader]
    assert epoch_1 != epoch_0  # a new shuffle per epoch ...
    loader.sampler.set_epoch(0)
    assert [batch.tolist() for batch in loader] == epoch_0  # ... that depends only on seed and epoch

    iterator = iter(loader)
    next(iterator), next(iterator)
    state = loader.state_dict()
    assert state == {"seed": 5, "epoch": 0, "batches": 2}
    fresh = resumable_loader(torch.utils.data.DataLoader(dataset, batch_size=3, shuffle=True), seed=99)
    fresh.load_state_dict(state)
    assert [batch.tolist() for batch in fresh] == epoch_0[2:]

    finished = dict(state, batches=4)  # a checkpoint at the end of epoch 0: epoch 1 starts from its beginning
    fresh.load_state_dict(finished)
    assert fresh.sampler.epoch == 1 and [batch.tolist() for batch in fresh] == epoch_1


def test_loader_without_plain_sampling_is_left_alone():
    dataset = list(range(10))
    weighted = torch.utils.data.WeightedRandomSampler([1.0] * 10, 10)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, sampler=weighted)
    with pytest.warns(UserWarning, match="not a plain DataLoader"):
        assert resumable_loader(loader, seed=0) is loader
    with pytest.raises(TypeError, match="needs a ResumableSampler"):
        ResumableDataLoader(dataset, batch_size=3)
    assert list(ResumableSampler(4, shuffle=False, seed=0)) == [0, 1, 2, 3]
