"""How time and peak memory grow with the input length.

1. Perceiver encoder, eval forward, against the input length M (1k to 64k inputs of 64 channels, 512 latents x 256
   channels, 1 cross-attention head, 2 self-attention layers): ours, `transformers`' PerceiverModel and lucidrains'
   perceiver-pytorch.
2. Perceiver AR train step against the prefix length (256 latents): ours and lucidrains' perceiver-ar-pytorch.

Writes a table, `benchmarks/results/scaling.json` and the plot `docs/images/scaling.png`.

    python -m benchmarks.scaling [--quick]
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn as nn

from benchmarks.common import (
    interleaved_medians,
    machine,
    measuring_memory,
    memory_in_subprocess,
    peak_memory_mib,
    print_table,
    save_results,
)
from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig, InputAdapter, PerceiverEncoder

INPUT_LENGTHS = [1024, 4096, 16384, 65536]
PREFIX_LENGTHS = [512, 1024, 2048, 4096]
NUM_LATENTS, LATENT_CHANNELS, INPUT_CHANNELS = 512, 256, 64  # 512 latents as the official ImageNet models
AR_LATENTS, AR_CHANNELS, AR_HEADS, AR_LAYERS, VOCAB = 256, 256, 8, 4, 262


class Identity(InputAdapter):
    def forward(self, x):
        return x


def encoders() -> dict[str, nn.Module]:
    ours = PerceiverEncoder(
        Identity(INPUT_CHANNELS),
        num_latents=NUM_LATENTS,
        num_latent_channels=LATENT_CHANNELS,
        num_cross_attention_heads=1,
        num_cross_attention_qk_channels=INPUT_CHANNELS,
        num_cross_attention_v_channels=INPUT_CHANNELS,
        num_self_attention_heads=8,
        num_self_attention_layers_per_block=2,
        cross_attention_widening_factor=1,
    )
    result = {"ours": ours}
    from transformers import PerceiverConfig, PerceiverModel

    config = PerceiverConfig(
        num_latents=NUM_LATENTS,
        d_latents=LATENT_CHANNELS,
        d_model=INPUT_CHANNELS,
        num_blocks=1,
        num_self_attends_per_block=2,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        cross_attention_widening_factor=1,
        self_attention_widening_factor=1,
    )
    hf = PerceiverModel(config)
    result["transformers"] = _Wrap(lambda x: hf(inputs=x).last_hidden_state, hf)
    try:
        from perceiver_pytorch import Perceiver
    except ImportError:
        print("perceiver-pytorch is not installed (pip install perceiver-pytorch): its rows are skipped")
    else:
        lucid = Perceiver(
            num_freq_bands=1,
            depth=1,
            max_freq=2.0,
            input_channels=INPUT_CHANNELS,
            input_axis=1,
            num_latents=NUM_LATENTS,
            latent_dim=LATENT_CHANNELS,
            cross_heads=1,
            latent_heads=8,
            cross_dim_head=INPUT_CHANNELS,
            latent_dim_head=LATENT_CHANNELS // 8,
            fourier_encode_data=False,
            self_per_cross_attn=2,
            final_classifier_head=False,
        )
        result["perceiver-pytorch"] = _Wrap(lucid, lucid)
    return {name: m.eval() for name, m in result.items()}


class _Wrap(nn.Module):
    def __init__(self, fn, module):
        super().__init__()
        self.fn, self.module = fn, module

    def forward(self, x):
        return self.fn(x)


def ar_models(prefix_len: int) -> dict[str, nn.Module]:
    seq_len = prefix_len + AR_LATENTS
    config = CausalSequenceModelConfig(
        vocab_size=VOCAB,
        max_seq_len=seq_len,
        max_latents=AR_LATENTS,
        num_channels=AR_CHANNELS,
        num_heads=AR_HEADS,
        num_self_attention_layers=AR_LAYERS,
        cross_attention_dropout=0.5,
    )
    ours = CausalSequenceModel(config)
    result = {"ours": _Wrap(lambda x: ours(x, prefix_len=prefix_len).logits, ours)}
    try:
        from perceiver_ar_pytorch import PerceiverAR
    except ImportError:
        print("perceiver-ar-pytorch is not installed: its rows are skipped")
    else:
        lucid = PerceiverAR(
            num_tokens=VOCAB,
            dim=AR_CHANNELS,
            depth=AR_LAYERS,
            max_seq_len=seq_len,
            cross_attn_seq_len=prefix_len,
            dim_head=AR_CHANNELS // AR_HEADS,
            heads=AR_HEADS,
            cross_attn_dropout=0.5,
        )
        result["perceiver-ar-pytorch"] = _Wrap(lucid, lucid)
    return {name: m.train() for name, m in result.items()}


def encoder_step(model: nn.Module, m: int):
    x = torch.randn(1, m, INPUT_CHANNELS)

    def step():
        with torch.no_grad():
            model(x)

    return step


def ar_step(model: nn.Module, prefix_len: int):
    x = torch.randint(0, VOCAB, (1, prefix_len + AR_LATENTS))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits[:, -AR_LATENTS:].flatten(0, 1), x[:, -AR_LATENTS:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad()

    return step


def memory(quick: bool) -> dict[str, float]:
    result = {}
    models = encoders()
    for m in INPUT_LENGTHS[:2] if quick else INPUT_LENGTHS:
        for name, model in models.items():
            step = encoder_step(model, m)
            step()
            result[f"encoder|{m}|{name}"] = peak_memory_mib(step)
    for p in PREFIX_LENGTHS[:2] if quick else PREFIX_LENGTHS:
        for name, model in ar_models(p).items():
            step = ar_step(model, p)
            step()
            result[f"ar|{p}|{name}"] = peak_memory_mib(step)
    return result


def run(reps: int, quick: bool) -> tuple[list[dict], list[dict]]:
    mem = memory_in_subprocess("benchmarks.scaling", *(["--quick"] if quick else []))
    models = encoders()
    enc_rows = []
    for m in INPUT_LENGTHS[:2] if quick else INPUT_LENGTHS:
        times = interleaved_medians({name: encoder_step(model, m) for name, model in models.items()}, reps, 1)
        for name, t in times.items():
            enc_rows.append({"inputs": m, "impl": name, "ms": t * 1e3, "peak MiB": mem[f"encoder|{m}|{name}"]})
    ar_rows = []
    for p in PREFIX_LENGTHS[:2] if quick else PREFIX_LENGTHS:
        steps = {name: ar_step(model, p) for name, model in ar_models(p).items()}
        times = interleaved_medians(steps, reps, 1)
        for name, t in times.items():
            ar_rows.append({"prefix": p, "impl": name, "ms": t * 1e3, "peak MiB": mem[f"ar|{p}|{name}"]})
    return enc_rows, ar_rows


def ratios(rows: list[dict], key: str) -> list[dict]:
    out = []
    for length in sorted({r[key] for r in rows}):
        at = {r["impl"]: r for r in rows if r[key] == length}
        for name, r in at.items():
            if name != "ours":
                out.append(
                    {
                        key: length,
                        "peer": name,
                        "speed-up (peer ms / ours ms)": r["ms"] / at["ours"]["ms"],
                        "memory ratio (ours / peer)": at["ours"]["peak MiB"] / r["peak MiB"],
                    }
                )
    return out


def plot(enc_rows: list[dict], ar_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for row, (rows, key, title) in enumerate(
        [(enc_rows, "inputs", "encoder eval forward"), (ar_rows, "prefix", "Perceiver AR train step")]
    ):
        for col, metric in enumerate(["ms", "peak MiB"]):
            ax = axes[row][col]
            for name in dict.fromkeys(r["impl"] for r in rows):
                pts = [(r[key], r[metric]) for r in rows if r["impl"] == name]
                ax.plot(*zip(*pts), marker="o", label=name)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("input length" if key == "inputs" else "prefix length")
            ax.set_ylabel("time (ms)" if metric == "ms" else "peak memory above baseline (MiB)")
            ax.set_title(title)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.suptitle(f"Scaling on {machine()['device']} ({machine()['threads']} threads)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main() -> None:
    quick = "--quick" in sys.argv
    if measuring_memory():
        print(json.dumps(memory(quick)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="only the two shortest lengths")
    args = parser.parse_args(sys.argv[1:])
    enc_rows, ar_rows = run(args.reps, args.quick)
    print_table("Encoder eval forward vs input length", enc_rows)
    print_table("Encoder ratios", ratios(enc_rows, "inputs"))
    print_table("Perceiver AR train step vs prefix length", ar_rows)
    print_table("Perceiver AR ratios", ratios(ar_rows, "prefix"))
    image = Path(__file__).parents[1] / "docs" / "images" / "scaling.png"
    plot(enc_rows, ar_rows, image)
    print(f"\nplot: {image}")
    print(f"results: {save_results('scaling', {'encoder': enc_rows, 'perceiver_ar': ar_rows})}")


if __name__ == "__main__":
    main()
