"""Train a Perceiver AR causal language model: ``python -m perceiver.scripts.text.clm fit|validate|test ...``.

Example (bundled corpus, offline)::

    python -m perceiver.scripts.text.clm fit --config examples/training/clm/pydoc.yaml
"""

from perceiver.data.text import TextDataModule
from perceiver.model.text.clm.lightning import LitCausalLanguageModel
from perceiver.scripts.cli import CAUSAL_SEQUENCE_LINKS, CLI
from perceiver.scripts.lrs import CosineWithWarmupLR


class CausalLanguageModelCLI(CLI):
    """Perceiver AR causal language model"""

    lr_scheduler_class = CosineWithWarmupLR
    argument_links = CAUSAL_SEQUENCE_LINKS
    model_defaults = {
        "model.max_latents": 512,
        "model.num_channels": 512,
        "model.num_self_attention_layers": 8,
        "model.cross_attention_dropout": 0.5,
        "model.post_attention_dropout": 0.0,
    }


def main(args=None, run: bool = True) -> CausalLanguageModelCLI:
    return CausalLanguageModelCLI.for_task(LitCausalLanguageModel, TextDataModule, args, run)


if __name__ == "__main__":
    main()
