"""Train a Perceiver IO masked language model: ``python -m perceiver.scripts.text.mlm fit|validate|test ...``."""

from perceiver.data.text import TextDataModule
from perceiver.model.text.mlm.lightning import LitMaskedLanguageModel
from perceiver.scripts.cli import CLI
from perceiver.scripts.lrs import ConstantWithWarmupLR

# The reference's model (Perceiver IO paper, language): 201M parameters with a 262-byte vocabulary.
ENCODER_DEFAULTS = {
    "num_input_channels": 768,
    "num_cross_attention_qk_channels": 256,
    "num_cross_attention_v_channels": 1280,
    "num_cross_attention_heads": 8,
    "num_self_attention_qk_channels": 256,
    "num_self_attention_v_channels": 1280,
    "num_self_attention_heads": 8,
    "num_self_attention_layers_per_block": 26,
    "num_self_attention_blocks": 1,
    "dropout": 0.1,
}


class MaskedLanguageModelCLI(CLI):
    """Perceiver IO masked language model"""

    lr_scheduler_class = ConstantWithWarmupLR
    argument_links = tuple(
        (f"data.{size}", f"{target}.{size}", "instantiate")
        for target in ("model.encoder", "model.decoder")
        for size in ("vocab_size", "max_seq_len")
    )
    model_defaults = {
        "model.num_latents": 256,
        "model.num_latent_channels": 1280,
        "model.num_predictions": 5,
        **{f"model.encoder.{k}": v for k, v in ENCODER_DEFAULTS.items()},
        "model.decoder.num_cross_attention_qk_channels": 256,
        "model.decoder.num_cross_attention_v_channels": 768,
        "model.decoder.num_cross_attention_heads": 8,
        "model.decoder.cross_attention_residual": False,
        "model.decoder.dropout": 0.1,
    }


def main(args=None, run: bool = True) -> MaskedLanguageModelCLI:
    return MaskedLanguageModelCLI.for_task(LitMaskedLanguageModel, TextDataModule, args, run)


if __name__ == "__main__":
    main()
