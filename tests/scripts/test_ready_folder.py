"""The ready folder's CLI option, its Python callback, and the step labels of logged samples."""

import logging

import lightning.pytorch as pl
import pytest
import torch
from transformers import pipeline

from perceiver.model.core.lightning import log_text, trained_steps
from perceiver.scripts.ready_folder import ReadyFolder, attach_ready_folder, ready_folder_callback, write_ready_folder


@pytest.mark.parametrize(
    "subcommand, value, expected",
    [("fit", None, None), ("fit", True, None), ("fit", "models/x", "models/x"), ("validate", "models/x", "models/x"),
     ("test", "models/x", "models/x")],
)  # fmt: skip
def test_ready_folder_option_writes_a_folder(subcommand, value, expected):
    callback = ready_folder_callback(subcommand, value)
    assert isinstance(callback, ReadyFolder) and callback.dirpath == expected


@pytest.mark.parametrize("subcommand, value", [("fit", False), ("validate", None), ("test", None), ("test", False)])
def test_ready_folder_option_writes_none(subcommand, value):
    assert ready_folder_callback(subcommand, value) is None


def test_attach_keeps_a_configured_callback():
    trainer = pl.Trainer(callbacks=[ReadyFolder("mine")], logger=False, enable_progress_bar=False)
    attach_ready_folder(trainer, "fit", None)
    assert [c.dirpath for c in trainer.callbacks if isinstance(c, ReadyFolder)] == ["mine"]


def tiny_digits_classifier():
    from perceiver.model.core.config import ClassificationDecoderConfig
    from perceiver.model.vision.image_classifier import ImageEncoderConfig, LitImageClassifier

    class Lit(LitImageClassifier):
        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=1e-3)

    encoder = ImageEncoderConfig(image_shape=(8, 8, 1), num_frequency_bands=2, num_cross_attention_heads=1,
                                 num_self_attention_heads=2, num_self_attention_layers_per_block=1)  # fmt: skip
    decoder = ClassificationDecoderConfig(num_classes=10, num_output_query_channels=16)
    return Lit(encoder, decoder, num_latents=4, num_latent_channels=16)


def test_callback_in_a_python_trainer(tmp_path):
    from perceiver.data.vision import DigitsDataModule

    data, model = DigitsDataModule(batch_size=64), tiny_digits_classifier()
    trainer = pl.Trainer(max_steps=3, limit_val_batches=1, val_check_interval=3, logger=False,
                         enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                         callbacks=[ReadyFolder(tmp_path / "digits")])  # fmt: skip
    trainer.fit(model, data)
    card = (tmp_path / "digits" / "README.md").read_text()
    assert "steps: 3" in card and "val_acc" in card and "measured at step 3" in card
    classify = pipeline("image-classification", model=str(tmp_path / "digits"))
    assert classify.model.config.id2label == {i: str(i) for i in range(10)}
    assert len(classify(torch.zeros(8, 8, dtype=torch.uint8).numpy(), top_k=3)) == 3


def test_write_ready_folder_needs_a_task_module(tmp_path):
    with pytest.raises(TypeError, match="has no to_hgf_model"):
        write_ready_folder(tmp_path, pl.LightningModule(), None)


def test_samples_are_labelled_with_the_step_of_their_weights(caplog):
    model = tiny_digits_classifier()
    assert trained_steps(model) == (0, "weights not from a checkpoint")
    model.on_load_checkpoint({"global_step": 120, "state_dict": {}})
    assert trained_steps(model) == (120, "checkpoint of step 120")
    with caplog.at_level(logging.INFO):
        log_text(model, "sample", "text")
    assert "sample (checkpoint of step 120)" in caplog.text
