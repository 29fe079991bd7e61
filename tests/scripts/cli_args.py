"""Command lines of small CLI runs shared by the script tests."""

from pathlib import Path


def tiny_digits_args(root: Path, max_steps: int) -> list[str]:
    """``fit`` of a 3K-parameter image classifier on the bundled digits, quiet, under ``root``."""
    return [
        "fit",
        "--data=DigitsDataModule",
        "--data.batch_size=32",
        "--model.num_latents=4",
        "--model.num_latent_channels=16",
        "--model.encoder.num_frequency_bands=2",
        "--model.encoder.num_cross_attention_heads=1",
        "--model.encoder.num_self_attention_heads=2",
        "--model.encoder.num_self_attention_layers_per_block=1",
        "--model.encoder.num_self_attention_blocks=1",
        "--model.decoder.num_output_query_channels=16",
        "--model.decoder.num_cross_attention_heads=1",
        "--optimizer=AdamW",
        "--optimizer.lr=3e-3",
        "--lr_scheduler.warmup_steps=5",
        f"--trainer.max_steps={max_steps}",
        "--trainer.limit_val_batches=1",
        "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={root}",
    ]
