"""LitMaskedLanguageModel and LitTextClassifier: loss on masked positions, filled samples, encoder transfer."""

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F

from perceiver.data.text import LocalTextDataModule
from perceiver.data.text.local import pydoc_topics
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.text.classifier.lightning import LitTextClassifier
from perceiver.model.text.common.backend import TextEncoderConfig
from perceiver.model.text.mlm.backend import TextDecoderConfig
from perceiver.model.text.mlm.lightning import LitMaskedLanguageModel

SEQ = 32


def encoder_config(**kwargs) -> TextEncoderConfig:
    defaults = dict(
        vocab_size=262,
        max_seq_len=SEQ,
        num_input_channels=16,
        num_cross_attention_heads=2,
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
    )
    return TextEncoderConfig(**(defaults | kwargs))


def mlm(**kwargs) -> LitMaskedLanguageModel:
    decoder = TextDecoderConfig(vocab_size=262, max_seq_len=SEQ, num_cross_attention_heads=2)
    return LitMaskedLanguageModel(encoder_config(), decoder, num_latents=4, num_latent_channels=16, **kwargs)


class TrainableMLM(LitMaskedLanguageModel):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


class TrainableClassifier(LitTextClassifier):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def trainer(tmp_path, **kwargs) -> pl.Trainer:
    options = dict(
        default_root_dir=str(tmp_path),
        logger=pl.loggers.CSVLogger(str(tmp_path)),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return pl.Trainer(**(options | kwargs))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("mlm") / "corpus.txt"
    topics = pydoc_topics()
    path.write_text("\n\n".join(topics[n] for n in sorted(topics)[:6]))
    return path


def test_step_loss_on_masked_positions():
    model = mlm().eval()
    x = torch.randint(6, 262, (2, SEQ))
    labels = torch.full_like(x, -100)
    labels[:, ::5] = x[:, ::5]
    pad_mask = torch.zeros_like(x, dtype=torch.bool)
    logits = model.model(x, pad_mask=pad_mask)
    expected = F.cross_entropy(logits[labels != -100], labels[labels != -100])
    torch.testing.assert_close(model.step((labels, x, pad_mask)), expected)


def test_create_from_config_and_checkpoint_round_trip(tmp_path, corpus, caplog):
    dm = LocalTextDataModule(
        train_files=[str(corpus)], dataset_dir=str(tmp_path), tokenizer="bytes", max_seq_len=SEQ, task="mlm",
        batch_size=4, num_workers=0,
    )  # fmt: skip
    model = TrainableMLM.create(mlm().backend_config, masked_samples=["The <mask><mask> statement"], num_predictions=2)
    t = trainer(tmp_path, max_steps=2, limit_val_batches=1, val_check_interval=2)
    t.fit(model, dm)
    assert "val_loss" in t.callback_metrics
    assert "filled masked samples" in caplog.text and "[MASK][MASK]" in caplog.text
    ckpt = next((tmp_path / "lightning_logs").rglob("*.ckpt"))
    hparams = torch.load(ckpt, weights_only=True)["hyper_parameters"]
    assert hparams["encoder"]["num_input_channels"] == 16  # configs stored as plain dicts
    restored = LitMaskedLanguageModel.load_from_checkpoint(ckpt)
    assert restored.encoder_config == model.encoder_config
    x = torch.randint(6, 262, (1, SEQ))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(restored.eval()(x), model(x))
        torch.testing.assert_close(model.to_hgf_model()(input_ids=x).logits, model(x))
    from_params = LitMaskedLanguageModel.create(model.backend_config, params=str(ckpt)).eval()
    with torch.no_grad():
        torch.testing.assert_close(from_params(x), model(x))


def test_classifier_encoder_from_mlm_checkpoint_and_hf_folder_frozen(tmp_path, corpus):
    source = mlm()
    t = trainer(tmp_path, logger=False)
    t.strategy.connect(source)
    t.save_checkpoint(tmp_path / "mlm.ckpt")
    source.to_hgf_model().save_pretrained(tmp_path / "mlm-hf")
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=16, num_cross_attention_heads=1)
    for params in (str(tmp_path / "mlm.ckpt"), str(tmp_path / "mlm-hf")):
        clf = LitTextClassifier(
            encoder_config(params=params, freeze=True), decoder, num_latents=4, num_latent_channels=16
        )
        for key, value in source.model.encoder.state_dict().items():
            assert torch.equal(clf.model.encoder.state_dict()[key], value), key
        assert not any(p.requires_grad for p in clf.model.encoder.parameters())
        assert all(p.requires_grad for p in clf.model.decoder.parameters())

    # a frozen encoder stays unchanged in training; accuracy is logged
    clf = TrainableClassifier(
        encoder_config(params=str(tmp_path / "mlm.ckpt"), freeze=True), decoder, num_latents=4, num_latent_channels=16
    )
    before = {k: v.clone() for k, v in clf.model.encoder.state_dict().items()}
    batch = (torch.tensor([0, 1, 2, 1]), torch.randint(6, 262, (4, SEQ)), torch.zeros(4, SEQ, dtype=torch.bool))
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    t = trainer(tmp_path / "clf", max_steps=3, limit_val_batches=1)
    t.fit(clf, loader, loader)
    assert {"train_acc", "val_acc", "val_loss"} <= set(t.callback_metrics)
    assert all(torch.equal(before[k], v) for k, v in clf.model.encoder.state_dict().items())
    # restoring a classifier checkpoint does not need the MLM checkpoint any more
    ckpt = next((tmp_path / "clf").rglob("*.ckpt"))
    (tmp_path / "mlm.ckpt").unlink()
    restored = LitTextClassifier.load_from_checkpoint(ckpt)
    assert torch.equal(
        restored.model.decoder.output_adapter.linear.weight, clf.model.decoder.output_adapter.linear.weight
    )
    logits = restored.to_hgf_model()(input_ids=batch[1]).logits
    assert logits.shape == (4, 3)


def test_bad_config_type():
    with pytest.raises(TypeError, match="encoder must be a TextEncoderConfig or a dict of its fields, got int"):
        LitMaskedLanguageModel(3, TextDecoderConfig(), num_latents=4, num_latent_channels=16)
