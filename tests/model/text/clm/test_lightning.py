"""LitCausalLanguageModel: reference checkpoints, loss on latent positions, training, sampling, params loading."""

from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F

from perceiver.data.text import PydocTextDataModule
from perceiver.data.text.utils import byte_tokenizer
from perceiver.model.text.clm.lightning import PADDING_SIDE_ERROR, LitCausalLanguageModel

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lightning"
TINY = dict(vocab_size=262, max_seq_len=32, max_latents=8, num_channels=16, num_heads=2, num_self_attention_layers=1)


class TrainableCLM(LitCausalLanguageModel):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def test_reference_checkpoint_loads_and_reproduces_logits():
    model = LitCausalLanguageModel.load_from_checkpoint(FIXTURES / "clm_lit.ckpt", map_location="cpu").eval()
    io = torch.load(FIXTURES / "clm_lit_io.pt")
    assert model.hparams.max_latents == 16 and model.hparams.num_channels == 32
    with torch.no_grad():
        logits = model(io["inputs"], prefix_len=io["prefix_len"], pad_mask=io["pad_mask"]).logits
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=1e-5)


def test_step_loss_covers_only_latent_positions_and_ignores_padding():
    model = LitCausalLanguageModel(**TINY, cross_attention_dropout=0.0).eval()
    x = torch.randint(6, 262, (2, 20))
    labels = torch.randint(6, 262, (2, 20))
    pad_mask = torch.zeros(2, 20, dtype=torch.bool)
    pad_mask[1, :3] = True
    loss = model.step((labels, x, pad_mask))
    logits = model.model(x, prefix_len=12, pad_mask=pad_mask).logits
    expected = F.cross_entropy(logits.reshape(-1, 262), labels[:, -8:].reshape(-1))
    torch.testing.assert_close(loss, expected)
    # padded positions inside the latents are ignored
    pad_mask[0, :15] = True
    masked_labels = labels.clone()
    masked_labels[0, 12:15] = -100
    logits = model.model(x, prefix_len=12, pad_mask=pad_mask).logits
    expected = F.cross_entropy(logits.reshape(-1, 262), masked_labels[:, -8:].reshape(-1), ignore_index=-100)
    torch.testing.assert_close(model.step((labels, x, pad_mask)), expected)


def test_training_sequence_shorter_than_max_latents():
    model = LitCausalLanguageModel(**TINY)
    x = torch.randint(6, 262, (2, 5))
    with pytest.raises(ValueError, match=r"Training sequence length must be at least 8 \(= max_latents\)"):
        model.step((x, x, None))


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_side_must_be_left(side):
    model = LitCausalLanguageModel(**TINY)
    tokenizer = byte_tokenizer()
    tokenizer.padding_side = side
    model._trainer = SimpleNamespace(datamodule=SimpleNamespace(tokenizer=tokenizer))
    if side == "right":
        with pytest.raises(ValueError, match=PADDING_SIDE_ERROR):
            model.setup("fit")
    else:
        model.setup("fit")


def test_fit_on_bundled_corpus_logs_sample_and_checkpoints(tmp_path, caplog):
    pl.seed_everything(0)
    dm = PydocTextDataModule(
        dataset_dir=str(tmp_path / "data"), task="clm", max_seq_len=32, padding_side="left", batch_size=4, num_workers=0
    )
    model = TrainableCLM(
        **TINY, validation_sample_prompt="The if", validation_sample_record=-1, validation_sample_num_tokens=6
    )
    trainer = pl.Trainer(
        max_steps=4,
        limit_val_batches=2,
        val_check_interval=2,
        num_sanity_val_steps=0,
        default_root_dir=str(tmp_path),
        logger=pl.loggers.CSVLogger(str(tmp_path)),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    assert trainer.global_step == 4 and "val_loss" in trainer.callback_metrics
    assert "prompt sample (step 2)" in caplog.text and "The if ▶ " in caplog.text
    assert "validation sample (step 4)" in caplog.text
    ckpt = next((tmp_path / "lightning_logs").rglob("*.ckpt"))
    # our checkpoints keep plain hyperparameters: torch.load's default weights_only=True reads them
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["max_latents"] == 8
    restored = LitCausalLanguageModel.load_from_checkpoint(ckpt)
    assert torch.equal(restored.model.output_adapter.bias, model.model.output_adapter.bias)


def test_generate_continuation_and_hf_round_trip(tmp_path):
    model = LitCausalLanguageModel(**TINY).eval()
    prompt = torch.randint(6, 262, (1, 10))
    out = model.generate_continuation(prompt, 5, do_sample=False)
    assert out.shape == (1, 15) and torch.equal(out[:, :10], prompt)
    hf = model.to_hgf_model()
    hf.save_pretrained(tmp_path / "hf")
    for params in (str(tmp_path / "hf"), None):
        if params is None:
            ckpt = tmp_path / "model.ckpt"
            trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
            trainer.strategy.connect(model)
            trainer.save_checkpoint(ckpt)
            params = str(ckpt)
        loaded = LitCausalLanguageModel(**TINY, params=params).eval()
        with torch.no_grad():
            a = loaded(prompt, prefix_len=2).logits
            b = model(prompt, prefix_len=2).logits
        torch.testing.assert_close(a, b)
    with pytest.raises(FileNotFoundError, match="params checkpoint not found"):
        LitCausalLanguageModel(**TINY, params=str(tmp_path / "missing.ckpt"))


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    plain = LitCausalLanguageModel(**TINY, cross_attention_dropout=0.0)
    checkpointed = LitCausalLanguageModel(**TINY, cross_attention_dropout=0.0, activation_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randint(6, 262, (2, 20))
    losses = []
    for model in (plain, checkpointed):
        model.train()
        loss = model.step((x, x, None))
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1])
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_bf16_mixed_precision_on_cpu(tmp_path):
    model = TrainableCLM(**TINY)
    tokens = torch.randint(6, 262, (8, 21))
    batches = [(t[1:], t[:-1], torch.zeros(20, dtype=torch.bool)) for t in tokens]
    trainer = pl.Trainer(
        accelerator="cpu",
        precision="bf16-mixed",
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, torch.utils.data.DataLoader(batches, batch_size=4))
    assert trainer.global_step == 2 and torch.isfinite(trainer.callback_metrics["train_loss"])


def test_exported_folder_loads_in_text_generation_pipeline(tmp_path):
    from transformers import pipeline

    import perceiver.model.text.clm  # noqa: F401 (registers the Auto classes)

    model = LitCausalLanguageModel(**TINY).eval()
    model.to_hgf_model().save_pretrained(tmp_path)
    tokenizer = byte_tokenizer()
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(tmp_path)
    generator = pipeline("text-generation", model=str(tmp_path))
    out = generator("The if", max_new_tokens=5, do_sample=False, num_latents=2)
    assert out[0]["generated_text"].startswith("The if")
    # greedy: the same continuation as generating from the Lightning module's backend
    prompt = torch.tensor([tokenizer("The if", add_special_tokens=False)["input_ids"]])
    expected = model.to_hgf_model().generate(prompt, max_new_tokens=5, do_sample=False, num_latents=2)
    assert torch.equal(generator.model.generate(prompt, max_new_tokens=5, do_sample=False, num_latents=2), expected)


def test_max_grad_norm_clips_and_logs(tmp_path):
    model = TrainableCLM(**TINY, max_grad_norm=1e-3)
    tokens = torch.randint(6, 262, (4, 21))
    batches = [(t[1:], t[:-1], torch.zeros(20, dtype=torch.bool)) for t in tokens]
    norms = []

    class Probe(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            # gradients after clipping and the optimizer step, before the next zero_grad
            grads = [p.grad.norm() for p in pl_module.parameters() if p.grad is not None]
            norms.append(torch.stack(grads).norm().item())

    trainer = pl.Trainer(
        max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, callbacks=[Probe()]
    )
    trainer.fit(model, torch.utils.data.DataLoader(batches, batch_size=2))
    assert trainer.callback_metrics["grad_norm"] > 1e-3  # the norm before clipping
    assert norms and all(n <= 1e-3 * 1.001 for n in norms)
    with pytest.raises(ValueError, match="max_grad_norm must be > 0 or None, got 0"):
        LitCausalLanguageModel(**TINY, max_grad_norm=0)
