"""Small random ``transformers`` Perceiver models standing in for the official checkpoints offline (``--tiny``).

They have the classes of DeepMind's models, so the example scripts run the real conversion code on them; their
weights are random, so their outputs are meaningless.
"""

import tempfile
from pathlib import Path

import torch
import transformers


def _config(**kwargs) -> transformers.PerceiverConfig:
    defaults = dict(
        num_latents=16,
        d_latents=64,
        num_blocks=1,
        num_self_attends_per_block=2,
        num_self_attention_heads=4,
        num_cross_attention_heads=1,
        attention_probs_dropout_prob=0.0,
    )
    return transformers.PerceiverConfig(**(defaults | kwargs))


def _build(kind: str) -> torch.nn.Module:
    if kind == "language-perceiver":
        # transformers fixes the masked-LM decoder to 8 heads of 256 qk channels: d_model must divide by 8
        config = _config(vocab_size=262, max_position_embeddings=256, d_model=64, num_cross_attention_heads=2)
        return transformers.PerceiverForMaskedLM(config)
    if kind == "vision-perceiver-fourier":
        return transformers.PerceiverForImageClassificationFourier(_config(num_labels=5))
    if kind == "optical-flow-perceiver":
        return transformers.PerceiverForOpticalFlow(_config(train_size=[48, 64]))
    raise ValueError(
        f"kind must be language-perceiver, vision-perceiver-fourier or optical-flow-perceiver, got {kind!r}"
    )


def tiny_source(kind: str, save_dir: str | Path | None = None, seed: int = 0) -> str:
    """Save a small random model of the class of ``deepmind/<kind>`` to ``save_dir`` (default: a new temporary
    folder) and return the folder's path."""
    torch.manual_seed(seed)
    save_dir = Path(save_dir or tempfile.mkdtemp(prefix=f"tiny-{kind}-"))
    _build(kind).eval().save_pretrained(save_dir)
    return str(save_dir)
