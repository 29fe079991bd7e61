"""Our masked language model against `transformers`' ``PerceiverForMaskedLM`` with the same weights.

Configuration MLM-S: vocabulary 262, 2048 tokens, 256 input channels, 256 latents x 512 channels, qk 256 / v 512
channels, 8 self-attention layers in one block, 8 heads everywhere, decoder without query residual, batch 4 (the
last example padded by a quarter). Attention dropout is 0 in both models, so eval and train compute the same
function. Measured side by side in one run: eval forward, train step (forward, cross-entropy, backward, AdamW) and
the train step's peak memory above the process baseline (in a subprocess), plus the achieved GFLOP/s as a fraction
of the machine's fp32 matmul peak.

    python -m benchmarks.mlm [--reps 10]
"""

import argparse
import json
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
import transformers

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
from perceiver.model.text.mlm import convert_hf_model

MLM_S = dict(
    vocab_size=262,
    max_position_embeddings=2048,
    d_model=256,
    d_latents=512,
    num_latents=256,
    qk_channels=256,
    v_channels=512,
    num_blocks=1,
    num_self_attends_per_block=8,
    num_self_attention_heads=8,
    num_cross_attention_heads=8,
    cross_attention_widening_factor=1,
    self_attention_widening_factor=1,
    attention_probs_dropout_prob=0.0,
)
BATCH_SIZE = 4
TARGETS = {"eval forward": 1.5, "train step": 1.3, "train memory": 0.7}
LABELLED = "ours, loss on labelled positions"


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build(seq_len: int | None = None) -> tuple[torch.nn.Module, torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The source model, our converted backend, and a batch of token ids with its attention mask."""
    seq_len = seq_len or MLM_S["max_position_embeddings"]
    torch.manual_seed(0)
    source = transformers.PerceiverForMaskedLM(transformers.PerceiverConfig(**MLM_S))
    ours = convert_hf_model(source).backend_model
    gen = torch.Generator().manual_seed(1)
    input_ids = torch.randint(6, 262, (BATCH_SIZE, seq_len), generator=gen)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[-1, -seq_len // 4 :] = 0
    input_ids[attention_mask == 0] = 0
    dev = device()
    return source.to(dev), ours.to(dev), input_ids.to(dev), attention_mask.to(dev)


def synchronized(fn: Callable[[], object]) -> Callable[[], object]:
    """Wait for the GPU at the end of each call, so wall times cover the work."""
    if not torch.cuda.is_available():
        return fn

    def wrapped():
        result = fn()
        torch.cuda.synchronize()
        return result

    return wrapped


def step_fns(source, ours, input_ids, attention_mask) -> dict[tuple[str, str], callable]:
    pad_mask = ~attention_mask.bool()
    # MLM targets: 15 % of the real tokens, the rest ignored.
    gen = torch.Generator().manual_seed(2)
    labels = torch.where((torch.rand(input_ids.shape, generator=gen) < 0.15) & attention_mask.bool(), input_ids, -100)
    masked = torch.where(labels != -100, 3, input_ids)

    def forward_ours():
        return ours(masked, pad_mask=pad_mask)

    def forward_source():
        return source(input_ids=masked, attention_mask=attention_mask).logits

    def eval_fn(model, forward):
        def fn():
            model.eval()
            with torch.no_grad():
                forward()

        return fn

    def full_loss(forward):
        return lambda: F.cross_entropy(forward().flatten(0, 1), labels.flatten(), ignore_index=-100)

    def train_fn(model, compute_loss):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def fn():
            model.train()
            loss = compute_loss()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return fn

    fns = {
        ("eval forward", "ours"): eval_fn(ours, forward_ours),
        ("eval forward", "transformers"): eval_fn(source, forward_source),
        ("train step", "ours"): train_fn(ours, full_loss(forward_ours)),
        ("train step", "transformers"): train_fn(source, full_loss(forward_source)),
        # the same loss and gradients, decoding only the labelled positions (MaskedLanguageModel.loss)
        ("train step", LABELLED): train_fn(ours, lambda: ours.loss(masked, labels, pad_mask=pad_mask)),
        ("forward", "ours"): forward_ours,
        ("forward", "transformers"): forward_source,
    }
    return {key: synchronized(fn) for key, fn in fns.items()}


def memory() -> dict[str, float]:
    """Peak memory of one train step above the process baseline, after a warm-up step (optimizer state)."""
    fns = step_fns(*build())
    result = {}
    for impl in ["ours", "transformers", LABELLED]:
        fn = fns[("train step", impl)]
        fn()
        result[impl] = peak_memory_mib(fn)
    return result


def run(reps: int, child_args: list[str]) -> dict:
    mem = memory_in_subprocess("benchmarks.mlm", *child_args)
    source, ours, input_ids, attention_mask = build()
    fns = step_fns(source, ours, input_ids, attention_mask)

    with torch.no_grad():
        source.eval(), ours.eval()
        diff = (fns[("forward", "ours")]() - fns[("forward", "transformers")]()[:, : input_ids.shape[1]]).abs().max()
    # FlopCounterMode's module tracker needs autograd on (parameters seen under no_grad trip it)
    flops = {impl: count_flops(fns[("forward", impl)]) for impl in ["ours", "transformers"]}
    train_flops = count_flops(fns[("train step", "transformers")])

    peak = matmul_peak_gflops() if device().type == "cpu" else cuda_matmul_peak_gflops()
    rows, ratios = [], {}
    for mode, impls in [("eval forward", ["ours", "transformers"]), ("train step", ["ours", "transformers", LABELLED])]:
        t = interleaved_medians({impl: fns[(mode, impl)] for impl in impls}, reps=reps)
        ratios[mode] = t["transformers"] / t["ours"]
        if LABELLED in t:
            ratios["train step, " + LABELLED] = t["transformers"] / t[LABELLED]
        for impl in impls:
            row = {"mode": mode, "model": impl, "median ms": t[impl] * 1e3}
            # the same model FLOPs for both: transformers' eager attention is counted exactly
            model_flops = flops["transformers"] if mode == "eval forward" else train_flops
            gflops = model_flops / t[impl] / 1e9
            row |= {"GFLOP/s": gflops, "of fp32 peak": f"{100 * gflops / peak:.0f} %"}
            rows.append(row)
    ratios["train memory"] = mem["ours"] / mem["transformers"]
    ratios["train memory, " + LABELLED] = mem[LABELLED] / mem["transformers"]
    return {
        "rows": rows,
        "ratios": ratios,
        "memory_mib": mem,
        "gflop_per_forward": {k: v / 1e9 for k, v in flops.items()},
        "gflop_per_train_step": train_flops / 1e9,
        "matmul_peak_gflops": peak,
        "max_abs_logit_diff": float(diff),
    }


def cuda_matmul_peak_gflops(n: int = 8192, reps: int = 10) -> float:
    """fp32 matmul rate of a large ``torch.mm`` on the GPU (TF32 off, as in the models)."""
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    seconds = interleaved_medians({"mm": synchronized(lambda: torch.mm(a, b))}, reps=reps, warmup=2)["mm"]
    return 2 * n**3 / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seq-len", type=int, default=2048, help="tokens (and positions) per example: smoke tests")
    args, _ = parser.parse_known_args(sys.argv[1:])
    if args.threads:
        torch.set_num_threads(args.threads)
    MLM_S["max_position_embeddings"] = args.seq_len
    if measuring_memory():
        print(json.dumps(memory()))
        return
    start = time.perf_counter()
    child_args = ["--seq-len", str(args.seq_len)] + ([] if args.threads is None else ["--threads", str(args.threads)])
    results = run(args.reps, child_args)
    info = machine()
    print_table(f"MLM-S: ours vs transformers ({info['device']}, {info['threads']} threads)", results["rows"])
    ratio_rows = []
    for name, target in TARGETS.items():
        value = results["ratios"][name]
        ok = value <= target if name == "train memory" else value >= target
        kind = "ours / transformers (at most)" if name == "train memory" else "speed-up (at least)"
        ratio_rows.append({"measure": name, "ratio": value, "target": f"{target} {kind}", "met": "yes" if ok else "no"})
    print_table("Ratios", ratio_rows)
    mem, gf = results["memory_mib"], results["gflop_per_forward"]
    print(
        f"\ntrain-step peak memory above baseline (MiB): ours {mem['ours']:.0f}, transformers {mem['transformers']:.0f}"
    )
    print(f"GFLOP per forward (FlopCounterMode): transformers {gf['transformers']:.1f}, ours {gf['ours']:.1f}")
    print(f"GFLOP per train step (transformers): {results['gflop_per_train_step']:.1f}")
    print(f"fp32 matmul peak: {results['matmul_peak_gflops']:.0f} GFLOP/s")
    print(f"max |logits ours - transformers|: {results['max_abs_logit_diff']:.2e}")
    print(f"wall time {time.perf_counter() - start:.0f} s; results: {save_results('mlm', results)}")


if __name__ == "__main__":
    main()
