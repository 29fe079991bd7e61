"""Train a Perceiver IO image classifier: ``python -m perceiver.scripts.vision.image_classifier fit ...``.

Data modules: ``DigitsDataModule`` (bundled, offline), ``MNISTDataModule`` (hub), ``ImageFolderDataModule``.
"""

from lightning.pytorch import LightningDataModule

from perceiver.data.vision import DigitsDataModule, ImageFolderDataModule, MNISTDataModule  # noqa: F401 (names)
from perceiver.model.vision.image_classifier.lightning import LitImageClassifier
from perceiver.scripts.cli import CLI
from perceiver.scripts.lrs import ConstantWithWarmupLR


class ImageClassifierCLI(CLI):
    """Perceiver IO image classifier"""

    lr_scheduler_class = ConstantWithWarmupLR
    argument_links = (
        ("data.image_shape", "model.encoder.image_shape", "instantiate"),
        ("data.num_classes", "model.decoder.num_classes", "instantiate"),
    )
    model_defaults = {
        "model.num_latents": 512,
        "model.num_latent_channels": 1024,
        "model.encoder.num_frequency_bands": 64,
        "model.encoder.num_cross_attention_layers": 1,
        "model.encoder.num_cross_attention_heads": 1,
        "model.encoder.num_self_attention_heads": 8,
        "model.encoder.num_self_attention_layers_per_block": 6,
        "model.encoder.num_self_attention_blocks": 8,
        "model.encoder.dropout": 0.1,
        "model.decoder.num_output_query_channels": 1024,
        "model.decoder.num_cross_attention_heads": 1,
        "model.decoder.dropout": 0.1,
    }


def main(args=None, run: bool = True) -> ImageClassifierCLI:
    return ImageClassifierCLI.for_task(LitImageClassifier, LightningDataModule, args, run)


if __name__ == "__main__":
    main()
