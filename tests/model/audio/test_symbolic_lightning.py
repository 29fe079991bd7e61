from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from perceiver.data.audio import PAD_TOKEN_ID, SymbolicAudioDataModule
from perceiver.model.audio.symbolic import LitSymbolicAudioModel, PerceiverSymbolicAudioModel, SymbolicAudioModelConfig

FIXTURE_HF = Path(__file__).parents[2] / "fixtures" / "symbolic_audio" / "hf"
TINY = dict(vocab_size=389, max_seq_len=32, max_latents=8, num_channels=16, num_heads=2, num_self_attention_layers=1)


def test_loss_covers_latent_positions_and_ignores_padding():
    lit = LitSymbolicAudioModel(**TINY, cross_attention_dropout=0.0).eval()
    x = torch.randint(0, 388, (2, 32))
    x[1, :27] = PAD_TOKEN_ID  # left padding reaching into the latents
    labels = torch.randint(0, 388, (2, 32))
    labels[1, :26] = -100
    pad_mask = x == PAD_TOKEN_ID
    with torch.no_grad():
        loss = lit.step((labels, x, pad_mask))
        logits = lit.model(x, prefix_len=24, pad_mask=pad_mask).logits
    # reference: mean cross-entropy over the last 8 positions whose input is not padding
    keep = ~pad_mask[:, 24:]
    expected = F.cross_entropy(logits[keep], labels[:, 24:][keep])
    torch.testing.assert_close(loss, expected)


def test_config_and_hf_model_share_backend():
    lit = LitSymbolicAudioModel(**TINY)
    assert lit.backend_config == SymbolicAudioModelConfig(**TINY)
    hf = lit.to_hgf_model()
    assert isinstance(hf, PerceiverSymbolicAudioModel) and hf.backend_model is lit.model
    out = hf.eval().generate(torch.randint(0, 388, (1, 5)), max_new_tokens=3, pad_token_id=PAD_TOKEN_ID)
    assert out.shape == (1, 8)


def test_params_from_hf_folder():
    lit = LitSymbolicAudioModel(
        vocab_size=389, max_seq_len=64, max_latents=16, num_channels=32, num_heads=4, num_self_attention_layers=2,
        params=str(FIXTURE_HF),
    )  # fmt: skip
    reference = PerceiverSymbolicAudioModel.from_pretrained(FIXTURE_HF).backend_model.state_dict()
    for key, value in lit.model.state_dict().items():
        assert torch.equal(value, reference[key]), key


def test_short_training_sequence_error():
    lit = LitSymbolicAudioModel(**TINY)
    x = torch.randint(0, 388, (1, 4))
    with pytest.raises(ValueError, match=r"Training sequence length must be at least 8 \(= max_latents\)"):
        lit.step((x, x, None))


def test_right_padding_rejected(tmp_path):
    lit = LitSymbolicAudioModel(**TINY)
    data = SymbolicAudioDataModule(str(tmp_path), max_seq_len=32, padding_side="right")

    class Trainer:
        datamodule = data

    lit._trainer = Trainer()
    with pytest.raises(ValueError, match="requires a data module configured with padding_side=left"):
        lit.setup("fit")
