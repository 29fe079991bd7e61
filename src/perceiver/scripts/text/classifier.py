"""Train a Perceiver IO text classifier: ``python -m perceiver.scripts.text.classifier fit|validate|test ...``."""

from perceiver.data.text import TextDataModule
from perceiver.model.text.classifier.lightning import LitTextClassifier
from perceiver.scripts.cli import CLI
from perceiver.scripts.lrs import ConstantWithWarmupLR
from perceiver.scripts.text.mlm import ENCODER_DEFAULTS


class TextClassifierCLI(CLI):
    """Perceiver IO text classifier"""

    lr_scheduler_class = ConstantWithWarmupLR
    argument_links = (
        ("data.vocab_size", "model.encoder.vocab_size", "instantiate"),
        ("data.max_seq_len", "model.encoder.max_seq_len", "instantiate"),
        ("data.num_classes", "model.decoder.num_classes", "instantiate"),
    )
    model_defaults = {
        "model.num_latents": 256,
        "model.num_latent_channels": 1280,
        **{f"model.encoder.{k}": v for k, v in ENCODER_DEFAULTS.items()},
        "model.decoder.num_output_query_channels": 768,
        "model.decoder.num_cross_attention_heads": 1,
        "model.decoder.dropout": 0.1,
    }


def main(args=None, run: bool = True) -> TextClassifierCLI:
    return TextClassifierCLI.for_task(LitTextClassifier, TextDataModule, args, run)


if __name__ == "__main__":
    main()
