"""The causal language model: Perceiver AR over byte or subword tokens with a tied output embedding."""

from dataclasses import dataclass

from perceiver.model.core.config import CausalSequenceModelConfig
from perceiver.model.core.perceiver_ar import CausalSequenceModel


@dataclass
class CausalLanguageModelConfig(CausalSequenceModelConfig):
    """Fields and defaults of perceiver-io 0.11 (``max_seq_len=4096``, ``max_latents=512``, ``num_channels=512``,
    ``num_heads=8``, ``num_self_attention_layers=8``, ``cross_attention_dropout=0.5``, ...)."""


class CausalLanguageModel(CausalSequenceModel):
    """``forward(x, prefix_len, pad_mask=None, kv_cache=None)`` returns ``logits`` of the latent positions
    ``(b, n - prefix_len, vocab_size)``, ``last_hidden_state`` and ``kv_cache``."""

    def __init__(self, config: CausalLanguageModelConfig):
        super().__init__(config)
