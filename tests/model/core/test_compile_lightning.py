"""``compile=True`` on the Lightning base modules: the backend is compiled in place and trains like eager."""

import copy

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from perceiver.model.text.clm.lightning import LitCausalLanguageModel

TINY = dict(vocab_size=40, max_seq_len=16, max_latents=4, num_channels=16, num_heads=2, num_self_attention_layers=1)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TrainableCLM(LitCausalLanguageModel):
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_configure_model_compiles_in_place_only_when_asked():
    eager = LitCausalLanguageModel(**TINY)
    eager.configure_model()
    assert eager.model._compiled_call_impl is None

    compiled = LitCausalLanguageModel(**TINY, compile=True)
    keys = list(compiled.state_dict())
    compiled.configure_model()
    assert compiled.hparams.compile is True
    assert compiled.model._compiled_call_impl is not None
    assert list(compiled.state_dict()) == keys  # checkpoints keep the eager parameter names
    compiled.configure_model()  # idempotent


def test_perceiver_io_modules_take_compile():
    from perceiver.model.core.config import ClassificationDecoderConfig
    from perceiver.model.vision.image_classifier import ImageEncoderConfig
    from perceiver.model.vision.image_classifier.lightning import LitImageClassifier

    encoder = ImageEncoderConfig(image_shape=(4, 4, 1), num_frequency_bands=2, num_cross_attention_heads=1)
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=8, num_cross_attention_heads=1)
    module = LitImageClassifier(encoder, decoder, num_latents=2, num_latent_channels=8, compile=True)
    module.configure_model()
    assert module.model._compiled_call_impl is not None


def fit(module: pl.LightningModule, data: torch.Tensor) -> None:
    loader = DataLoader(TensorDataset(data[:, 1:], data[:, :-1]), batch_size=2, collate_fn=lambda b: collate(b))
    trainer = pl.Trainer(
        max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, loader)


def collate(batch):
    labels, x = (torch.stack(t) for t in zip(*batch))
    return labels, x, None


@pytest.mark.slow
def test_compiled_training_equals_eager():
    torch.manual_seed(0)
    eager = TrainableCLM(**TINY, cross_attention_dropout=0.0)
    compiled = copy.deepcopy(eager)
    compiled.hparams.compile = True
    data = torch.randint(0, 40, (6, 17))
    fit(eager, data)
    fit(compiled, data)
    assert compiled.model._compiled_call_impl is not None
    for (name, p_eager), p_compiled in zip(eager.model.named_parameters(), compiled.model.parameters()):
        torch.testing.assert_close(p_compiled, p_eager, atol=1e-5, rtol=1e-5, msg=name)
    x = data[:2, :-1]
    with torch.no_grad():
        expected = eager.eval().model(x, prefix_len=12).logits
        actual = compiled.eval().model(x, prefix_len=12).logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
