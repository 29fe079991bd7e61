"""Truncated checkpoints and HF folders, loaded through the library's own loaders, fail with an error naming the
file: ``from_pretrained`` of the HF classes, the CLM ``load_checkpoint``/``convert_checkpoint`` and Lit ``params=``."""

import lightning.pytorch as pl
import pytest
import torch

from perceiver.model.core.checkpoint import CorruptCheckpointError
from perceiver.model.text.clm import (
    CausalLanguageModelConfig,
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
)
from perceiver.model.text.clm.huggingface import load_checkpoint
from perceiver.model.text.clm.lightning import LitCausalLanguageModel

TINY = dict(vocab_size=262, max_seq_len=32, max_latents=8, num_channels=16, num_heads=2, num_self_attention_layers=1)


def truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


@pytest.fixture(scope="module")
def lit_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    model = LitCausalLanguageModel(**TINY)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


def test_truncated_safetensors_in_from_pretrained(tmp_path):
    model = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(CausalLanguageModelConfig(**TINY)))
    model.save_pretrained(tmp_path)
    PerceiverCausalLanguageModel.from_pretrained(tmp_path)  # complete folder loads
    truncate(tmp_path / "model.safetensors", 0.7)
    with pytest.raises(CorruptCheckpointError, match="model.safetensors"):
        PerceiverCausalLanguageModel.from_pretrained(tmp_path)


def test_truncated_ckpt_in_load_checkpoint(tmp_path, lit_checkpoint):
    config, state_dict = load_checkpoint(lit_checkpoint)
    assert config.max_latents == 8 and state_dict
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(lit_checkpoint.read_bytes()[:1000])
    with pytest.raises(CorruptCheckpointError, match="bad.ckpt"):
        load_checkpoint(bad)


def test_truncated_ckpt_as_lit_params(tmp_path, lit_checkpoint):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(lit_checkpoint.read_bytes()[:-100])
    with pytest.raises(CorruptCheckpointError, match="bad.ckpt"):
        LitCausalLanguageModel(**TINY, params=str(bad))


def test_truncated_ckpt_in_text_checkpoint_loader(tmp_path):
    from perceiver.model.text.common.checkpoint import load_perceiver_io_checkpoint
    from perceiver.model.text.mlm.backend import TextDecoderConfig, TextEncoderConfig

    bad = tmp_path / "mlm.ckpt"
    torch.save({"state_dict": {"model.w": torch.randn(100)}, "hyper_parameters": {}}, bad)
    truncate(bad)
    with pytest.raises(CorruptCheckpointError, match="mlm.ckpt"):
        load_perceiver_io_checkpoint(bad, TextEncoderConfig, TextDecoderConfig)


def test_save_pretrained_is_atomic_and_replaces_stale_weights(tmp_path):
    model = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(CausalLanguageModelConfig(**TINY)))
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"old shard")
    (folder / "notes.txt").write_text("kept")
    model.save_pretrained(folder)
    names = sorted(p.name for p in folder.iterdir())
    assert "model.safetensors" in names and "config.json" in names and "notes.txt" in names
    assert "model-00001-of-00002.safetensors" not in names
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]  # the temporary folder is gone
    loaded = PerceiverCausalLanguageModel.from_pretrained(folder)
    x = torch.randint(0, 262, (1, 8))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).logits, model.eval()(x).logits)
