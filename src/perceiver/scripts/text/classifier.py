"""Train a Perceiver IO text classifier: ``python -m perceiver.scripts.text.classifier fit|validate|test ...``."""

from lightning.pytorch.cli import LightningArgumentParser

from perceiver.data.text import TextDataModule
from perceiver.model.text.classifier.lightning import LitTextClassifier
from perceiver.scripts.cli import CLI
from perceiver.scripts.lrs import ConstantWithWarmupLR
from perceiver.scripts.text.mlm import ENCODER_DEFAULTS


class TextClassifierCLI(CLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_lr_scheduler_args(ConstantWithWarmupLR)
        parser.link_arguments("data.vocab_size", "model.encoder.vocab_size", apply_on="instantiate")
        parser.link_arguments("data.max_seq_len", "model.encoder.max_seq_len", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.decoder.num_classes", apply_on="instantiate")
        parser.set_defaults(
            {
                "model.num_latents": 256,
                "model.num_latent_channels": 1280,
                **{f"model.encoder.{k}": v for k, v in ENCODER_DEFAULTS.items()},
                "model.decoder.num_output_query_channels": 768,
                "model.decoder.num_cross_attention_heads": 1,
                "model.decoder.dropout": 0.1,
            }
        )


def main(args=None, run: bool = True) -> TextClassifierCLI:
    return TextClassifierCLI(
        LitTextClassifier,
        TextDataModule,
        subclass_mode_data=True,
        description="Perceiver IO text classifier",
        args=args,
        run=run,
    )


if __name__ == "__main__":
    main()
