"""Train the symbolic audio model: ``python -m perceiver.scripts.audio.symbolic fit --data=BachChoralesDataModule ...``.

Data modules: ``SymbolicAudioDataModule`` (any MIDI folder), ``BachChoralesDataModule`` (offline),
``MaestroV3DataModule``, ``GiantMidiPianoDataModule``. The learning rate follows ``CosineWithWarmupLR`` over
``--trainer.max_steps``.
"""

from lightning.pytorch.cli import LightningArgumentParser

from perceiver.data.audio import SymbolicAudioDataModule
from perceiver.model.audio.symbolic import LitSymbolicAudioModel
from perceiver.scripts.cli import CLI
from perceiver.scripts.lrs import CosineWithWarmupLR

MODEL_DEFAULTS = {
    "model.max_latents": 512,
    "model.num_channels": 512,
    "model.num_heads": 8,
    "model.num_self_attention_layers": 12,
    "model.cross_attention_dropout": 0.5,
    "model.output_norm": True,
    "model.output_bias": False,
    "model.abs_pos_emb": False,
}


class SymbolicAudioModelCLI(CLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_lr_scheduler_args(CosineWithWarmupLR)
        parser.link_arguments("trainer.max_steps", "lr_scheduler.training_steps", apply_on="parse")
        parser.link_arguments("data.max_seq_len", "model.max_seq_len", apply_on="instantiate")
        parser.link_arguments("data.vocab_size", "model.vocab_size", apply_on="instantiate")
        parser.set_defaults(MODEL_DEFAULTS)


def main(args: list[str] | None = None, run: bool = True) -> SymbolicAudioModelCLI:
    return SymbolicAudioModelCLI(
        LitSymbolicAudioModel,
        SymbolicAudioDataModule,
        subclass_mode_data=True,
        args=args,
        run=run,
    )


if __name__ == "__main__":
    main()
