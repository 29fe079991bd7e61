"""Train the symbolic audio model: ``python -m perceiver.scripts.audio.symbolic fit --data=BachChoralesDataModule ...``.

Data modules: ``SymbolicAudioDataModule`` (any MIDI folder), ``BachChoralesDataModule`` (offline),
``MaestroV3DataModule``, ``GiantMidiPianoDataModule``. The learning rate follows ``CosineWithWarmupLR`` over
``--trainer.max_steps``.
"""

from perceiver.data.audio import SymbolicAudioDataModule
from perceiver.model.audio.symbolic import LitSymbolicAudioModel
from perceiver.scripts.cli import CAUSAL_SEQUENCE_LINKS, CLI
from perceiver.scripts.lrs import CosineWithWarmupLR


class SymbolicAudioModelCLI(CLI):
    """Perceiver AR symbolic audio model"""

    lr_scheduler_class = CosineWithWarmupLR
    argument_links = CAUSAL_SEQUENCE_LINKS
    model_defaults = {
        "model.max_latents": 512,
        "model.num_channels": 512,
        "model.num_heads": 8,
        "model.num_self_attention_layers": 12,
        "model.cross_attention_dropout": 0.5,
        "model.output_norm": True,
        "model.output_bias": False,
        "model.abs_pos_emb": False,
    }


def main(args: list[str] | None = None, run: bool = True) -> SymbolicAudioModelCLI:
    return SymbolicAudioModelCLI.for_task(LitSymbolicAudioModel, SymbolicAudioDataModule, args, run)


if __name__ == "__main__":
    main()
