"""The symbolic audio model: Perceiver AR over MIDI performance-event tokens (vocabulary 389)."""

from dataclasses import dataclass

from perceiver.model.core.config import CausalSequenceModelConfig
from perceiver.model.core.perceiver_ar import CausalSequenceModel


@dataclass
class SymbolicAudioModelConfig(CausalSequenceModelConfig):
    """``CausalSequenceModelConfig`` with the MIDI vocabulary (388 events + padding) as default size."""

    vocab_size: int = 389


class SymbolicAudioModel(CausalSequenceModel):
    """Token ids of ``perceiver.data.audio.encode_midi`` in, next-token logits for the latent positions out."""

    def __init__(self, config: SymbolicAudioModelConfig):
        super().__init__(config)
