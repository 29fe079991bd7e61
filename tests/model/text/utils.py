"""Helpers of the text model tests: fixture paths, small random transformers sources, fake Lightning checkpoints."""

import dataclasses
from pathlib import Path

import torch
import transformers

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"


def small_hf_config(**kwargs) -> transformers.PerceiverConfig:
    """A tiny ``PerceiverForMaskedLM`` config. Its decoder has qk 256 and 8 heads whatever the config says, so the
    input width (d_model, the decoder's value width) must be divisible by 8."""
    defaults = dict(
        vocab_size=262,
        max_position_embeddings=48,
        d_model=32,
        d_latents=64,
        num_latents=16,
        num_blocks=2,
        num_self_attends_per_block=2,
        num_self_attention_heads=4,
        num_cross_attention_heads=2,
        cross_attention_widening_factor=2,
        self_attention_widening_factor=2,
    )
    return transformers.PerceiverConfig(**(defaults | kwargs))


def random_hf_mlm(seed: int = 0, **kwargs) -> transformers.PerceiverForMaskedLM:
    """A ``PerceiverForMaskedLM`` with all weights drawn at a large scale, so that logits are of order 1-10 and a
    wrong weight mapping shows."""
    torch.manual_seed(seed)
    model = transformers.PerceiverForMaskedLM(small_hf_config(**kwargs)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                param.uniform_(0.5, 1.5)
            else:
                param.normal_(0.0, 0.15)
    return model


def random_batch(batch_size: int, seq_len: int, vocab_size: int = 262, num_pad: int = 0, seed: int = 1):
    """Token ids and an attention mask whose last example has ``num_pad`` padding positions at the end."""
    gen = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(6, vocab_size, (batch_size, seq_len), generator=gen)
    attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    if num_pad:
        attention_mask[-1, -num_pad:] = 0
        input_ids[-1, -num_pad:] = 0
    return input_ids, attention_mask


def save_lightning_checkpoint(path: Path, backend: torch.nn.Module, as_dicts: bool = False) -> Path:
    """Write what ``trainer.save_checkpoint`` writes for a ``Lit*`` Perceiver IO text model: the backend weights
    under ``model.`` and the constructor arguments (dataclass configs, or dicts after a YAML round trip)."""
    config = backend.config
    encoder, decoder = config.encoder, config.decoder
    if as_dicts:
        encoder, decoder = dataclasses.asdict(encoder), dataclasses.asdict(decoder)
    hyper_parameters = {
        "encoder": encoder,
        "decoder": decoder,
        "num_latents": config.num_latents,
        "num_latent_channels": config.num_latent_channels,
        "activation_checkpointing": False,
        "activation_offloading": False,
        "params": None,
        "num_predictions": 3,
        "masked_samples": None,
    }
    state_dict = {f"model.{k}": v for k, v in backend.state_dict().items()}
    torch.save(
        {"state_dict": state_dict, "hyper_parameters": hyper_parameters, "pytorch-lightning_version": "2.6.6"}, path
    )
    return path
