"""Our Fourier image classifier against `transformers`' ``PerceiverForImageClassificationFourier``, same weights.

Configuration: 64x64x3 images, Fourier features with 32 bands (133 input channels), 128 latents x 256 channels,
1 cross-attention head, 8 self-attention heads, 2 blocks of 6 self-attention layers sharing their weights,
100 classes, batch 16. The source's preprocessor (fixed to 224x224 and 64 bands in `transformers`) is rebuilt with
32 bands and maximum resolution 64, and its encoder for the narrower input, so the two models compute the same
function (attention dropout 0 in both). Measured side by side in one run: eval forward and train step (forward,
cross-entropy, backward, AdamW), the achieved GFLOP/s as a fraction of the machine's fp32 matmul peak, and the
train step's peak memory above the process baseline (in a subprocess).

    python -m benchmarks.vision [--reps 10] [--threads N]
"""

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
import transformers
from transformers.models.perceiver import modeling_perceiver as hf

from benchmarks.common import (
    count_flops,
    interleaved_medians,
    machine,
    matmul_peak_gflops,
    measuring_memory,
    memory_in_subprocess,
    peak_memory_mib,
    print_table,
    save_results,
)
from perceiver.model.vision.image_classifier import convert_hf_model

IMAGE_SIZE, NUM_BANDS, BATCH_SIZE, NUM_CLASSES = 64, 32, 16, 100
CONFIG = dict(
    num_latents=128,
    d_latents=256,
    num_blocks=2,
    num_self_attends_per_block=6,
    num_self_attention_heads=8,
    num_cross_attention_heads=1,
    num_labels=NUM_CLASSES,
    attention_probs_dropout_prob=0.0,
)
TARGETS = {"eval forward": 1.3, "train step": 1.3}


def build() -> tuple[torch.nn.Module, torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The source model (preprocessor rebuilt for 64x64 images), our converted backend, images and labels."""
    torch.manual_seed(0)
    config = transformers.PerceiverConfig(**CONFIG)
    source = transformers.PerceiverForImageClassificationFourier(config)
    preprocessor = hf.PerceiverImagePreprocessor(
        config,
        prep_type="pixels",
        spatial_downsample=1,
        fourier_position_encoding_kwargs=dict(
            concat_pos=True, max_resolution=(IMAGE_SIZE, IMAGE_SIZE), num_bands=NUM_BANDS, sine_only=False
        ),
    )
    source.perceiver.input_preprocessor = preprocessor
    source.perceiver.encoder = hf.PerceiverEncoder(config, kv_dim=preprocessor.num_channels)
    source.post_init()
    ours = convert_hf_model(source).backend_model
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3, generator=gen)  # channels last
    labels = torch.randint(0, NUM_CLASSES, (BATCH_SIZE,), generator=gen)
    return source, ours, images, labels


def step_fns(source, ours, images, labels) -> dict[tuple[str, str], callable]:
    images_first = images.permute(0, 3, 1, 2).contiguous()  # transformers takes channels first

    def forward_ours():
        return ours(images)

    def forward_source():
        return source(inputs=images_first).logits

    def eval_fn(model, forward):
        def fn():
            model.eval()
            with torch.no_grad():
                forward()

        return fn

    def train_fn(model, forward):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def fn():
            model.train()
            F.cross_entropy(forward(), labels).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return fn

    return {
        ("eval forward", "ours"): eval_fn(ours, forward_ours),
        ("eval forward", "transformers"): eval_fn(source, forward_source),
        ("train step", "ours"): train_fn(ours, forward_ours),
        ("train step", "transformers"): train_fn(source, forward_source),
        ("forward", "ours"): forward_ours,
        ("forward", "transformers"): forward_source,
        ("forward+backward", "transformers"): lambda: F.cross_entropy(forward_source(), labels).backward(),
    }


def memory() -> dict[str, float]:
    """Peak memory of one train step above the process baseline, after a warm-up step (optimizer state)."""
    fns = step_fns(*build())
    result = {}
    for impl in ["ours", "transformers"]:
        fns[("train step", impl)]()
        result[impl] = peak_memory_mib(fns[("train step", impl)])
    return result


def run(reps: int) -> dict:
    mem = memory_in_subprocess("benchmarks.vision")
    source, ours, images, labels = build()
    fns = step_fns(source, ours, images, labels)
    with torch.no_grad():
        source.eval(), ours.eval()
        diff = (fns[("forward", "ours")]() - fns[("forward", "transformers")]()).abs().max()

    # the model FLOPs, counted on transformers' eager attention (SDPA kernels are counted alike)
    forward_flops = count_flops(fns[("forward", "transformers")])
    train_flops = count_flops(fns[("forward+backward", "transformers")])
    source.zero_grad(set_to_none=True)
    peak = matmul_peak_gflops()

    rows, ratios = [], {}
    for mode, flops in [("eval forward", forward_flops), ("train step", train_flops)]:
        t = interleaved_medians({impl: fns[(mode, impl)] for impl in ["ours", "transformers"]}, reps=reps)
        ratios[mode] = t["transformers"] / t["ours"]
        for impl in ["ours", "transformers"]:
            gflops = flops / t[impl] / 1e9
            rows.append(
                {
                    "mode": mode,
                    "model": impl,
                    "median ms": t[impl] * 1e3,
                    "GFLOP/s": gflops,
                    "of fp32 matmul peak": f"{100 * gflops / peak:.0f} %",
                }
            )
    return {
        "rows": rows,
        "ratios": ratios,
        "memory_mib": mem,
        "gflop": {"forward": forward_flops / 1e9, "forward+backward": train_flops / 1e9},
        "matmul_peak_gflops": peak,
        "max_abs_logit_diff": float(diff),
    }


def main() -> None:
    if measuring_memory():
        print(json.dumps(memory()))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(sys.argv[1:])
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    results = run(args.reps)
    info = machine()
    title = f"Fourier image classifier 64x64, batch {BATCH_SIZE}: ours vs transformers ({info['device']}, "
    print_table(title + f"{info['threads']} threads)", results["rows"])
    ratio_rows = [
        {"measure": name, "speed-up": results["ratios"][name], "target": target,
         "met": "yes" if results["ratios"][name] >= target else "no"}
        for name, target in TARGETS.items()
    ]  # fmt: skip
    print_table("Speed-ups (transformers / ours)", ratio_rows)
    mem, gflop = results["memory_mib"], results["gflop"]
    print(
        f"\ntrain-step peak memory above baseline: ours {mem['ours']:.0f} MiB, "
        f"transformers {mem['transformers']:.0f} MiB"
    )
    print(f"GFLOP (FlopCounterMode): forward {gflop['forward']:.1f}, forward+backward {gflop['forward+backward']:.1f}")
    print(f"fp32 matmul peak: {results['matmul_peak_gflops']:.0f} GFLOP/s")
    print(f"max |logits ours - transformers|: {results['max_abs_logit_diff']:.2e}")
    print(f"wall time {time.perf_counter() - start:.0f} s; results: {save_results('vision', results)}")


if __name__ == "__main__":
    main()
