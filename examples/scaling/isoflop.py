"""IsoFLOP study of byte-level Perceiver AR language models on the bundled pydoc corpus (Chinchilla's approach 2 at
laptop scale): for each compute budget, models of several sizes are trained with exactly that many training FLOPs
(:func:`perceiver.scaling.training_flops` per step), a parabola in log N through their validation losses gives the
compute-optimal size, and a power law through the optima gives ``N_opt(C)`` and ``D_opt(C)``.

    python examples/scaling/isoflop.py            # 3 budgets x 4 models, 6 to 10 min on one CPU core
    python examples/scaling/isoflop.py --quick    # tiny models and budgets, seconds (the tests run it)

Writes ``isoflop.png`` (IsoFLOP curves and the fitted law) and ``isoflop.json`` into ``--output_dir`` (default
``docs/images`` for the full study, a temporary folder with ``--quick``).
"""

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import matplotlib  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from perceiver.demo import pydoc_clm_data  # noqa: E402
from perceiver.model.text.clm.backend import CausalLanguageModelConfig  # noqa: E402
from perceiver.model.text.clm.lightning import LitCausalLanguageModel  # noqa: E402
from perceiver.scaling import (  # noqa: E402
    ScalingLaw,
    fit_scaling_law,
    isoflop_optimum,
    num_cross_attn_params,
    perceiver_ar_num_params,
    training_flops,
)
from perceiver.scripts.lrs import CosineWithWarmupLR  # noqa: E402

IMAGES = Path(__file__).parents[2] / "docs" / "images"
# Chinchilla's approach-2 law as fitted by perceiver-io's scaling article (N_opt = 0.1448 C^0.49)
CHINCHILLA_K_N, CHINCHILLA_A = 0.1448, 0.49


@dataclass
class Setup:
    budgets: tuple[float, ...]
    models: tuple[tuple[int, int], ...]  # (num_channels, num_self_attention_layers)
    num_heads: int
    max_seq_len: int
    max_latents: int
    batch_size: int
    valid_batches: int


FULL = Setup(budgets=(3e10, 1e11, 3e11), models=((16, 1), (32, 2), (48, 3), (64, 4)), num_heads=4, max_seq_len=128,
             max_latents=64, batch_size=8, valid_batches=8)  # fmt: skip
QUICK = Setup(budgets=(5e7, 1e8, 2e8), models=((16, 1), (24, 1), (32, 2)), num_heads=2, max_seq_len=64,
              max_latents=32, batch_size=4, valid_batches=1)  # fmt: skip


@dataclass
class Run:
    budget: float
    num_channels: int
    num_layers: int  # attention layers, the hybrid layer included (the reference's convention)
    params: int  # N_self: all parameters but the prefix position embeddings
    steps: int
    tokens: int  # latent tokens trained on
    flops: float
    val_loss: float
    seconds: float


def model_config(setup: Setup, num_channels: int, num_self_attention_layers: int) -> CausalLanguageModelConfig:
    return CausalLanguageModelConfig(
        vocab_size=262,
        max_seq_len=setup.max_seq_len,
        max_latents=setup.max_latents,
        num_channels=num_channels,
        num_heads=setup.num_heads,
        num_self_attention_layers=num_self_attention_layers,
        cross_attention_dropout=0.1,
    )


def batches(loader):
    while True:
        yield from loader


def train_run(setup: Setup, data, budget: float, config: CausalLanguageModelConfig, lr: float):
    """Train for ``budget`` FLOPs (rounded to whole steps) and return the :class:`Run`."""
    torch.manual_seed(0)
    model = LitCausalLanguageModel.create(config)
    step_flops = training_flops(config, setup.batch_size)
    steps = max(1, round(budget / step_flops))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    warmup = min(100, steps // 10)
    schedule = CosineWithWarmupLR(optimizer, training_steps=steps, warmup_steps=warmup, min_fraction=0.1)
    start = time.monotonic()
    model.train()
    for _, batch in zip(range(steps), batches(data.train_dataloader())):
        loss = model.step(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        losses = [float(model.step(b)) for _, b in zip(range(setup.valid_batches), data.val_dataloader())]
    num_prefix = config.max_seq_len - config.max_latents
    return Run(
        budget=budget,
        num_channels=config.num_channels,
        num_layers=config.num_self_attention_layers + 1,
        params=perceiver_ar_num_params(config) - num_cross_attn_params(config.num_channels, num_prefix),
        steps=steps,
        tokens=steps * setup.batch_size * config.max_latents,
        flops=float(steps * step_flops),
        val_loss=float(np.mean(losses)),
        seconds=time.monotonic() - start,
    )


def optimum(runs: list[Run]) -> dict:
    """The budget's compute-optimal point; the best run where the losses have no interior minimum."""
    params, losses, tokens = ([getattr(r, k) for r in runs] for k in ("params", "val_loss", "tokens"))
    try:
        n_opt, d_opt, loss = isoflop_optimum(params, losses, tokens)
        fitted = min(params) <= n_opt <= max(params)
    except ValueError:
        fitted = False
    if not fitted:
        best = min(runs, key=lambda r: r.val_loss)
        n_opt, d_opt, loss = best.params, best.tokens, best.val_loss
    return {"budget": runs[0].budget, "n_opt": n_opt, "d_opt": d_opt, "loss": loss, "parabola": fitted}


def plot(runs: list[Run], optima: list[dict], law, path: Path, title: str) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    colors = plt.cm.viridis(np.linspace(0.1, 0.8, len(optima)))
    for color, opt in zip(colors, optima):
        group = [r for r in runs if r.budget == opt["budget"]]
        params = np.array([r.params for r in group])
        losses = np.array([r.val_loss for r in group])
        left.plot(params, losses, "o", color=color, label=f"C = {opt['budget']:.2g} FLOPs")
        if opt["parabola"]:
            grid = np.logspace(np.log10(params.min()), np.log10(params.max()), 50)
            left.plot(grid, np.polyval(np.polyfit(np.log(params), losses, 2), np.log(grid)), "-", color=color)
        left.plot(opt["n_opt"], opt["loss"], "*", color=color, markersize=14, markeredgecolor="black")
    left.set_xscale("log")
    left.set_xlabel("parameters N (self-attention part)")
    left.set_ylabel("validation loss (nats/byte)")
    left.set_title("IsoFLOP profiles (star: minimum of the parabola in log N, else the best run)", fontsize=9)
    left.legend()
    left.grid(alpha=0.3)

    budgets = np.array([o["budget"] for o in optima])
    grid = np.logspace(np.log10(budgets.min()) - 0.3, np.log10(budgets.max()) + 0.3, 50)
    right.plot(budgets, [o["n_opt"] for o in optima], "*", markersize=14, color="tab:red", label="optima")
    right.plot(grid, law.n_opt(grid), "-", color="tab:red", label=f"fit: N_opt = {law.k_n:.3g} C^{law.a:.2f}")
    right.plot(grid, CHINCHILLA_K_N * grid**CHINCHILLA_A, "--", color="gray",
               label=f"Chinchilla: N_opt = {CHINCHILLA_K_N} C^{CHINCHILLA_A}")  # fmt: skip
    right.set_xscale("log")
    right.set_yscale("log")
    for axis in (left.xaxis, right.xaxis, right.yaxis):
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # decades only: minor labels overlap
    right.set_xlabel("training compute C (FLOPs)")
    right.set_ylabel("compute-optimal N")
    right.set_title("compute-optimal model size")
    right.legend()
    right.grid(alpha=0.3, which="both")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny models and budgets (seconds)")
    parser.add_argument("--output_dir", type=Path, default=None)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--from_json", type=Path, default=None, help="redraw the figure of a saved isoflop.json")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        return redraw(args.from_json, args.output_dir or args.from_json.parent)
    setup = QUICK if args.quick else FULL
    output_dir = args.output_dir or (Path(tempfile.mkdtemp(prefix="isoflop-")) if args.quick else IMAGES)
    output_dir.mkdir(parents=True, exist_ok=True)

    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    data_dir = Path(tempfile.gettempdir()) / "perceiver-isoflop-data"
    data = pydoc_clm_data(data_dir, setup.max_seq_len, setup.batch_size, valid_batch_size=32)
    data.prepare_data()
    data.setup()

    runs = []
    columns = [("budget", 8), ("channels", 8), ("layers", 6), ("N_self", 9), ("steps", 6), ("tokens", 9),
               ("val_loss", 8), ("s", 5)]  # fmt: skip
    print(" ".join(f"{name:>{width}}" for name, width in columns))
    for budget in setup.budgets:
        for channels, layers in setup.models:
            run = train_run(setup, data, budget, model_config(setup, channels, layers), args.lr)
            runs.append(run)
            print(f"{budget:8.2g} {channels:8d} {run.num_layers:6d} {run.params:9,d} {run.steps:6d} "
                  f"{run.tokens:9.2e} {run.val_loss:8.4f} {run.seconds:5.0f}", flush=True)  # fmt: skip

    optima = [optimum([r for r in runs if r.budget == b]) for b in setup.budgets]
    law = fit_scaling_law([o["budget"] for o in optima], [o["n_opt"] for o in optima], [o["d_opt"] for o in optima])
    print("\nCompute-optimal points (parabola in log N through each IsoFLOP profile):")
    for o in optima:
        source = "parabola" if o["parabola"] else "best run (no interior minimum)"
        chinchilla = CHINCHILLA_K_N * o["budget"] ** CHINCHILLA_A
        print(f"  C = {o['budget']:.2g}: N_opt = {o['n_opt']:,.0f} (Chinchilla's law: {chinchilla:,.0f}), "
              f"D_opt = {o['d_opt']:.2e} tokens, loss {o['loss']:.4f} [{source}]")  # fmt: skip
    print(f"\nFitted law:\n{law}")

    title = (f"byte-level Perceiver AR on the pydoc corpus, seq {setup.max_seq_len}, {setup.max_latents} latents, "
             f"batch {setup.batch_size}" + (" (--quick: tiny models, meaningless)" if args.quick else ""))  # fmt: skip
    image = output_dir / "isoflop.png"
    plot(runs, optima, law, image, title)
    results = {"setup": asdict(setup), "runs": [asdict(r) for r in runs], "optima": optima, "law": asdict(law)}
    (output_dir / "isoflop.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {image} and {output_dir / 'isoflop.json'}")
    return results | {"image": image}


def redraw(path: Path, output_dir: Path) -> dict:
    """Draw ``isoflop.png`` again from the results of an earlier run (no training)."""
    results = json.loads(path.read_text())
    runs = [Run(**r) for r in results["runs"]]
    setup = Setup(**{k: tuple(tuple(m) for m in v) if k == "models" else v for k, v in results["setup"].items()})
    title = f"byte-level Perceiver AR on the pydoc corpus, seq {setup.max_seq_len}, {setup.max_latents} latents, " \
            f"batch {setup.batch_size}"  # fmt: skip
    image = output_dir / "isoflop.png"
    plot(runs, results["optima"], ScalingLaw(**results["law"]), image, title)
    print(f"wrote {image}")
    return results | {"image": image}


if __name__ == "__main__":
    main()
