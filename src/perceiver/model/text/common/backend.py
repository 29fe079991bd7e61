"""The text encoder shared by the masked LM and the text classifier: token + position embedding, then Perceiver IO's
encoder."""

from dataclasses import dataclass
from typing import Any

import torch

from perceiver.model.core.adapter import TiedTokenOutputAdapter, TokenInputAdapter, check_token_ids
from perceiver.model.core.attention import check_pad_mask
from perceiver.model.core.config import EncoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverEncoder
from perceiver.model.core.utils import freeze


@dataclass
class TextEncoderConfig(EncoderConfig):
    """Text encoder: token and learned position embeddings, then the Perceiver IO encoder.

    :param vocab_size: size of the token vocabulary (the CLI links it from the data module's tokenizer).
    :param max_seq_len: longest input in tokens (the CLI links it from the data module).
    :param num_input_channels: width of the token and position embeddings.
    :param params: encoder weights to start from: a masked LM's Lightning checkpoint (``.ckpt``) or Hugging Face
        id or folder.
    """

    vocab_size: int = 10003
    max_seq_len: int = 256
    num_input_channels: int = 64
    params: str | None = None  # weights to start from (used by the Lightning modules)


# Names of perceiver-io 0.11.
TextInputAdapter = TokenInputAdapter
TiedTextOutputAdapter = TiedTokenOutputAdapter


class TextEncoder(PerceiverEncoder):
    def __init__(
        self,
        config: TextEncoderConfig,
        num_latents: int,
        num_latent_channels: int,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
    ):
        """Encodes token ids ``(b, n)`` into latents ``(b, num_latents, num_latent_channels)``. With
        ``config.freeze`` all encoder parameters are frozen (fine-tuning a classifier on a pretrained encoder)."""
        input_adapter = TokenInputAdapter(
            vocab_size=config.vocab_size,
            max_seq_len=config.max_seq_len,
            num_input_channels=config.num_input_channels,
        )
        super().__init__(
            input_adapter=input_adapter,
            num_latents=num_latents,
            num_latent_channels=num_latent_channels,
            activation_checkpointing=activation_checkpointing,
            activation_offloading=activation_offloading,
            **config.base_kwargs(),
        )
        if config.freeze:
            freeze(self)


def text_encoder(config: PerceiverIOConfig[TextEncoderConfig, Any]) -> TextEncoder:
    """The text encoder of a Perceiver IO text model's ``config``."""
    return TextEncoder(
        config.encoder,
        num_latents=config.num_latents,
        num_latent_channels=config.num_latent_channels,
        activation_checkpointing=config.activation_checkpointing,
        activation_offloading=config.activation_offloading,
    )


def check_text_input(x: torch.Tensor, pad_mask: torch.Tensor | None, vocab_size: int, max_seq_len: int, name: str):
    """Validate a batch of token ids and its padding mask at a model's entry, naming the argument ``name``."""
    check_token_ids(x, vocab_size, max_seq_len, name=name)
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}): give at least one sequence")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has sequence length 0: give at least one token")
    if pad_mask is not None:
        if not isinstance(pad_mask, torch.Tensor):
            raise TypeError(f"pad_mask must be a bool tensor (True = padding), got {type(pad_mask).__name__}")
        check_pad_mask(pad_mask, x.shape[0], x.shape[1])
