"""Masked language model (Perceiver IO): text encoder, then one output query per position decoded to token logits."""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from perceiver.model.core.adapter import OutputAdapter, TiedTokenOutputAdapter, TrainableQueryProvider
from perceiver.model.core.builders import perceiver_io_decoder
from perceiver.model.core.config import DecoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverIO
from perceiver.model.core.utils import require_positive
from perceiver.model.text.common.backend import (  # noqa: F401 (TextEncoder: a perceiver-io 0.11 name)
    TextEncoder,
    TextEncoderConfig,
    check_text_input,
    text_encoder,
)


@dataclass
class TextDecoderConfig(DecoderConfig):
    """Masked LM decoder: one output query per input position, decoded to token logits.

    :param num_output_query_channels: width of the output queries (null: the encoder's num_input_channels, with
        the logits tied to the token embedding).
    :param vocab_size: size of the token vocabulary (linked from the data module).
    :param max_seq_len: number of output positions (linked from the data module).
    """

    num_output_query_channels: int | None = None  # None: encoder.num_input_channels, output tied to the embedding
    vocab_size: int = 10003
    max_seq_len: int = 512


MaskedLanguageModelConfig = PerceiverIOConfig[TextEncoderConfig, TextDecoderConfig]


class TokenOutputAdapter(OutputAdapter):
    """Untied token logits: a linear layer from the decoder output to the vocabulary."""

    def __init__(self, vocab_size: int, num_output_query_channels: int):
        super().__init__()
        require_positive(vocab_size=vocab_size, num_output_query_channels=num_output_query_channels)
        self.linear = nn.Linear(num_output_query_channels, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


# Name of perceiver-io 0.11.
TextOutputAdapter = TokenOutputAdapter


class MaskedLanguageModel(PerceiverIO):
    def __init__(self, config: MaskedLanguageModelConfig):
        """The decoder has ``decoder.max_seq_len`` learned output queries, one per position. With
        ``decoder.num_output_query_channels=None`` the queries have the encoder's input width and the logits reuse
        the input token embedding (tied output, as in ``deepmind/language-perceiver``)."""
        if config.decoder.vocab_size != config.encoder.vocab_size:
            raise ValueError(
                f"decoder.vocab_size ({config.decoder.vocab_size}) must equal encoder.vocab_size "
                f"({config.encoder.vocab_size})"
            )
        encoder = text_encoder(config)
        tied = config.decoder.num_output_query_channels is None
        num_query_channels = config.encoder.num_input_channels if tied else config.decoder.num_output_query_channels
        output_query_provider = TrainableQueryProvider(
            num_queries=config.decoder.max_seq_len,
            num_query_channels=num_query_channels,
            init_scale=config.decoder.init_scale,
        )
        if tied:
            output_adapter = TiedTokenOutputAdapter(vocab_size=config.decoder.vocab_size)
        else:
            output_adapter = TokenOutputAdapter(config.decoder.vocab_size, num_query_channels)
        super().__init__(encoder, perceiver_io_decoder(config, output_adapter, output_query_provider))
        self.config = config

    @property
    def max_seq_len(self) -> int:
        return min(self.config.encoder.max_seq_len, self.config.decoder.max_seq_len)

    def forward(self, x_masked: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """
        :param x_masked: token ids ``(b, n)``, some of them replaced by the mask token.
        :param pad_mask: ``(b, n)`` bool, ``True`` = padding.
        :return: logits ``(b, n, vocab_size)``.
        """
        check_text_input(x_masked, pad_mask, self.config.encoder.vocab_size, self.max_seq_len, name="x_masked")
        x_latent = self.encoder(x_masked, pad_mask=pad_mask)
        # decoding the first n output queries equals decoding all max_seq_len and cropping to the input length
        return self.decoder(x_latent, query_positions=slice(0, x_masked.shape[1]), **self._output_adapter_kwargs())

    def loss(self, x_masked: torch.Tensor, labels: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The masked-LM cross-entropy over the positions whose label is not ``-100``, decoding only those.

        Equal (value and gradients) to ``cross_entropy(self(x_masked, pad_mask), labels, ignore_index=-100)``, but
        the decoder, whose output queries are independent of each other, runs on the labelled positions alone
        (about 15 % of them in BERT-style masking) instead of on all of them.
        """
        check_text_input(x_masked, pad_mask, self.config.encoder.vocab_size, self.max_seq_len, name="x_masked")
        if not isinstance(labels, torch.Tensor) or labels.shape != x_masked.shape:
            shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels must have the shape of x_masked {tuple(x_masked.shape)}, got {shape}")
        labelled = labels != -100
        counts = labelled.sum(dim=1)
        k = max(int(counts.max()), 1)
        # Per row, the labelled positions first (in order), then filler positions that the loss ignores.
        positions = torch.argsort((~labelled).to(torch.int8), dim=1, stable=True)[:, :k]
        targets = labels.gather(1, positions).masked_fill(
            torch.arange(k, device=labels.device) >= counts[:, None], -100
        )

        x_latent = self.encoder(x_masked, pad_mask=pad_mask)
        logits = self.decoder(x_latent, query_positions=positions, **self._output_adapter_kwargs())
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)

    def _output_adapter_kwargs(self) -> dict:
        if isinstance(self.decoder.output_adapter, TiedTokenOutputAdapter):
            return {"txt_embedding": self.encoder.input_adapter.txt_embedding}
        return {}


# Name of perceiver-io 0.11.
TextDecoder = PerceiverDecoder
