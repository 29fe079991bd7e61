"""LitImageClassifier on the bundled digits: training improves accuracy, checkpoints and HF export round-trip."""

import lightning.pytorch as pl
import torch

from perceiver.data.vision.digits import DigitsDataModule
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.vision.image_classifier.backend import ImageEncoderConfig
from perceiver.model.vision.image_classifier.lightning import LitImageClassifier


class Trainable(LitImageClassifier):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=3e-3)


def tiny(cls=LitImageClassifier, **kwargs):
    encoder = ImageEncoderConfig(
        image_shape=(8, 8, 1),
        num_frequency_bands=4,
        num_cross_attention_heads=1,
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
        init_scale=0.1,
    )
    decoder = ClassificationDecoderConfig(num_classes=10, num_output_query_channels=16, init_scale=0.1)
    return cls(encoder, decoder, num_latents=8, num_latent_channels=16, **kwargs)


def test_fit_digits_checkpoint_and_hf_export(tmp_path):
    pl.seed_everything(0)
    dm = DigitsDataModule(batch_size=64)
    model = tiny(Trainable)
    trainer = pl.Trainer(
        max_epochs=3,
        default_root_dir=str(tmp_path),
        logger=pl.loggers.CSVLogger(str(tmp_path)),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    initial = trainer.validate(model, dm, verbose=False)[0]
    trainer.fit(model, dm)
    metrics = trainer.callback_metrics
    # 3 epochs of a tiny model: it learns (lower held-out loss, accuracy above chance)
    assert metrics["val_loss"] < initial["val_loss"] - 0.05 and metrics["val_acc"] > 0.12
    ckpt = next((tmp_path / "lightning_logs").rglob("*.ckpt"))
    restored = LitImageClassifier.load_from_checkpoint(ckpt).eval()
    assert restored.encoder_config.image_shape == (8, 8, 1)
    x = torch.randn(3, 8, 8, 1)
    model.eval()
    x_other = torch.randn(3, 16, 12, 1)  # trained on 8x8 digits, run at another size
    with torch.no_grad():
        torch.testing.assert_close(restored(x), model(x))
        torch.testing.assert_close(model.to_hgf_model()(pixel_values=x).logits, model(x))
        torch.testing.assert_close(restored(x_other), model(x_other))
        torch.testing.assert_close(model.to_hgf_model()(pixel_values=x_other).logits, model(x_other))
        assert not torch.allclose(model(x_other), model(x_other[:, :8, :8]))
    result = trainer.validate(restored, dm, verbose=False)[0]
    assert abs(result["val_acc"] - float(metrics["val_acc"])) < 1e-6
    model.to_hgf_model().save_pretrained(tmp_path / "hf")
    from_hf = tiny(params=str(tmp_path / "hf")).eval()
    with torch.no_grad():
        torch.testing.assert_close(from_hf(x), model(x))
