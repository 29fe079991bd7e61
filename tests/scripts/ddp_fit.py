"""Run by test_distributed.py: a 2-process DDP fit on CPU (gloo) of a tiny Perceiver AR; each rank saves its
final weights to ``<out_dir>/rank<r>.pt``. Lightning starts the second process by re-running this script."""

import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

import perceiver.scripts.cli  # noqa: F401 (registers the ddp_static_graph strategy)
from perceiver.model.text.clm.lightning import LitCausalLanguageModel


class TinyCLM(LitCausalLanguageModel):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-2)


def main(out_dir: Path) -> None:
    pl.seed_everything(0)
    tokens = torch.randint(6, 262, (64, 17), generator=torch.Generator().manual_seed(1))
    examples = [(t[1:], t[:-1], torch.zeros(16, dtype=torch.bool)) for t in tokens]
    model = TinyCLM(
        vocab_size=262, max_seq_len=16, max_latents=4, num_channels=16, num_heads=2, num_self_attention_layers=1
    )
    torch.save(model.state_dict(), out_dir / "initial.pt")
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_static_graph",
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, DataLoader(examples, batch_size=8, shuffle=True))
    torch.save(
        {"state_dict": model.state_dict(), "world_size": trainer.world_size, "global_step": trainer.global_step},
        out_dir / f"rank{trainer.global_rank}.pt",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
