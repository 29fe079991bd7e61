"""GPU check: which SDPA backend each attention call takes, exactness of the zero-padded head dims, bf16 training,
and the speed-up against `transformers` on the GPU.

Runs only where CUDA is available (the lent GPU machine); the test suite never needs it.

    python -m benchmarks.gpu_check [--out DIR]
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.common import interleaved_medians, machine, print_table
from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig, MultiHeadAttention
from perceiver.model.core import attention_kernels as attention_module
from perceiver.model.core.attention_kernels import use_attention_policy

KERNEL_NAMES = [("flash", "flash"), ("fmha", "efficient"), ("efficient", "efficient"), ("cudnn", "cudnn")]


def kernel_backend(fn) -> str:
    """The SDPA backend that ``fn`` (one SDPA call) runs, read from the CUDA kernel names."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = " ".join(e.name.lower() for e in prof.events())
    for needle, backend in KERNEL_NAMES:
        if needle in names:
            return backend
    return "math"


def record_sdpa_calls(run) -> list[dict]:
    """Run ``run`` and, for every SDPA call it makes, the call's signature and the backend it takes."""
    calls = []
    original = F.scaled_dot_product_attention

    def recorder(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
        mask_kind = "none" if attn_mask is None else type(attn_mask).__name__
        if isinstance(attn_mask, torch.Tensor):
            mask_kind = f"bool{tuple(attn_mask.shape)}"
        signature = {
            "q": tuple(q.shape),
            "k": tuple(k.shape),
            "v": tuple(v.shape),
            "dtype": str(q.dtype).replace("torch.", ""),
            "mask": mask_kind,
            "is_causal": is_causal,
        }

        def call():
            return original(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale)

        signature["backend"] = kernel_backend(call)
        calls.append(signature)
        return call()

    attention_module.F.scaled_dot_product_attention = recorder
    try:
        run()
    finally:
        attention_module.F.scaled_dot_product_attention = original
    return calls


def backend_report() -> list[dict]:
    dev = "cuda"
    rows = []
    cases = []
    # Perceiver AR: causal without padding (lower-right bias), with left padding (boolean mask)
    clm = CausalSequenceModel(
        CausalSequenceModelConfig(vocab_size=262, max_seq_len=1024, max_latents=256, num_channels=512, num_heads=8)
    ).to(dev).eval()  # fmt: skip
    x = torch.randint(0, 262, (2, 1024), device=dev)
    pad = torch.zeros(2, 1024, dtype=torch.bool, device=dev)
    pad[1, :100] = True
    cases.append(("Perceiver AR, no padding", lambda: clm(x, prefix_len=768)))
    cases.append(("Perceiver AR, left padding", lambda: clm(x, prefix_len=768, pad_mask=pad)))
    # odd head dims of the official checkpoints: 261 / 322 (one head), qk 32 / v 160 (language model)
    for name, heads, qk, v in [
        ("image 1x261", 1, 261, 261),
        ("flow 1x322", 1, 322, 322),
        ("text qk32/v160", 8, 256, 1280),
    ]:
        mha = MultiHeadAttention(heads, 512, qk, num_qk_channels=qk, num_v_channels=v).to(dev).eval()
        xq, xkv = torch.randn(2, 256, 512, device=dev), torch.randn(2, 2048, qk, device=dev)
        cases.append((f"{name}, no mask", lambda m=mha, a=xq, b=xkv: m(a, b)))
        mask = torch.zeros(2, 2048, dtype=torch.bool, device=dev)
        mask[0, -500:] = True
        cases.append((f"{name}, padding", lambda m=mha, a=xq, b=xkv, p=mask: m(a, b, pad_mask=p)))
    for dtype in [torch.float32, torch.bfloat16]:
        for name, run in cases:
            with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
                calls = record_sdpa_calls(run)
            counts = Counter(c["backend"] for c in calls)
            rows.append({"case": name, "dtype": str(dtype).replace("torch.", ""), "calls": len(calls),
                         "backends": ", ".join(f"{b} x{n}" for b, n in counts.items()),
                         "example": json.dumps({k: calls[0][k] for k in ("q", "v", "mask")})})  # fmt: skip
    return rows


def padding_exactness() -> list[dict]:
    rows = []
    for heads, qk, v in [(1, 261, 261), (1, 322, 322), (8, 256, 1280)]:
        mha = MultiHeadAttention(heads, 512, qk, num_qk_channels=qk, num_v_channels=v).cuda().eval()
        xq, xkv = torch.randn(2, 128, 512, device="cuda"), torch.randn(2, 1024, qk, device="cuda")
        torch.backends.cuda.matmul.allow_tf32 = False
        with torch.no_grad():
            with use_attention_policy(pad_head_dims=False):
                plain = mha(xq, xkv).last_hidden_state
            with use_attention_policy(pad_head_dims=True):
                padded = mha(xq, xkv).last_hidden_state
            calls = {name: padded_call(mha, xq, xkv, pad) for name, pad in [("plain", False), ("padded", True)]}
            t = interleaved_medians(calls, reps=20)
        rows.append({"heads x qk/v": f"{heads} x {qk}/{v}", "max |diff|": float((plain - padded).abs().max()),
                     "speed-up from padding": t["plain"] / t["padded"]})  # fmt: skip
    return rows


def padded_call(mha, xq, xkv, pad: bool):
    def fn():
        with use_attention_policy(pad_head_dims=pad):
            mha(xq, xkv)
        torch.cuda.synchronize()

    return fn


def bf16_training(steps: int = 20) -> dict:
    from benchmarks.mlm import build

    source, ours, input_ids, attention_mask = build(seq_len=512)
    del source
    pad_mask = ~attention_mask.bool()
    labels = torch.where(torch.rand(input_ids.shape, device="cuda") < 0.15, input_ids, -100)
    masked = torch.where(labels != -100, 3, input_ids)
    optimizer = torch.optim.AdamW(ours.parameters(), lr=1e-3)
    losses = []
    ours.train()
    for _ in range(steps):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = ours(masked, pad_mask=pad_mask)
        loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    return {"first loss": losses[0], "last loss": losses[-1], "all finite": all(map(lambda v: v == v, losses))}


def speed_vs_transformers(reps: int = 20) -> list[dict]:
    from benchmarks.mlm import build, step_fns

    rows = []
    for dtype in [torch.float32, torch.bfloat16]:
        fns = step_fns(*build())
        for mode in ["eval forward", "train step"]:

            def run(impl, mode=mode, dtype=dtype, fns=fns):
                def fn():
                    with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
                        fns[(mode, impl)]()

                return fn  # fmt: skip

            t = interleaved_medians({impl: run(impl) for impl in ["ours", "transformers"]}, reps=reps, warmup=3)
            rows.append({"model": "MLM-S", "dtype": str(dtype).replace("torch.", ""), "mode": mode,
                         "ours ms": t["ours"] * 1e3, "transformers ms": t["transformers"] * 1e3,
                         "speed-up": t["transformers"] / t["ours"]})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(sys.argv[1:])
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return
    results = {"machine": machine(), "cuda": torch.version.cuda}
    for name, fn in [
        ("sdpa_backends", backend_report),
        ("zero_padding", padding_exactness),
        ("speed_vs_transformers", speed_vs_transformers),
    ]:
        try:
            results[name] = fn()
            print_table(name, results[name])
        except Exception as e:  # report and go on: one failing check must not hide the others
            results[name] = f"failed: {type(e).__name__}: {e}"
            print(f"\n## {name}: {results[name]}")
    try:
        results["bf16_training"] = bf16_training()
    except Exception as e:
        results["bf16_training"] = f"failed: {type(e).__name__}: {e}"
    print(f"\n## bf16 training\n{results['bf16_training']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
