"""Lightning module of the symbolic audio model (Perceiver AR on MIDI tokens): next-token loss on the latents."""

from perceiver.model.audio.symbolic.backend import SymbolicAudioModel, SymbolicAudioModelConfig
from perceiver.model.core.lightning import LitCausalSequenceModel, is_checkpoint  # noqa: F401 (0.11 name)

PADDING_SIDE_ERROR = (
    "Symbolic audio modeling with Perceiver AR requires a data module configured with padding_side=left"
)


class LitSymbolicAudioModel(LitCausalSequenceModel):
    """Trains a :class:`SymbolicAudioModel`. Arguments are the ``SymbolicAudioModelConfig`` fields plus ``params``:
    initial weights from a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or folder."""

    backend_model_class = SymbolicAudioModel
    backend_config_class = SymbolicAudioModelConfig

    def setup(self, stage: str | None = None) -> None:
        trainer = self._trainer
        datamodule = None if trainer is None else getattr(trainer, "datamodule", None)
        # Perceiver AR takes its latents from the end of the sequence: padding must be on the left.
        if getattr(datamodule, "padding_side", "left") != "left":
            raise ValueError(PADDING_SIDE_ERROR)
