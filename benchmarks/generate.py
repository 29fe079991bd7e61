"""Perceiver AR generation and training speed: the exact KV cache against uncached generation and against
lucidrains' ``perceiver-ar-pytorch`` (which has no cache), configuration CLM-S.

CLM-S: vocabulary 262, ``max_seq_len`` 1024, ``max_latents`` 256, 256 channels, 8 heads, 4 self-attention layers.
Generation: a 512-token prompt, 256 new tokens, greedy, batch 1, through ``generate`` of the Hugging Face wrapper
(``num_latents=1``: the latents grow from 1 to 256). Training: one AdamW step on a batch of 4 x 1024 tokens
(768 prefix + 256 latents). ``perceiver-ar-pytorch`` gets the comparable configuration (dim 256, depth 4, 8 heads
of 32 channels, prefix 511 so that its latents grow like ours); its row is skipped when it is not installed
(``pip install perceiver-ar-pytorch``).

The compiled decode step (``torch.compile`` on the cached single-token step) is measured through ``generate``
(``compile_decode_step=True``) and through the bare greedy loop (``generate_greedy(compile=True)`` against the same
loop run eagerly, no Hugging Face plumbing in either); its compile time (seconds, once per model) is reported
apart. ``--no-compile`` skips it.

    python -m benchmarks.generate            # CLM-S
    python -m benchmarks.generate --quick    # a small configuration, for a smoke test
"""

import argparse
import json
import time

import torch

from benchmarks.common import interleaved_medians, machine, print_table, save_results
from perceiver.model.core.generation import generate_greedy
from perceiver.model.text.clm import (
    CausalLanguageModel,
    CausalLanguageModelConfig,
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
)

CLM_S = dict(vocab_size=262, max_seq_len=1024, max_latents=256, num_channels=256, num_heads=8,
             num_self_attention_layers=4)  # fmt: skip
QUICK = dict(vocab_size=262, max_seq_len=128, max_latents=32, num_channels=128, num_heads=4,
             num_self_attention_layers=2)  # fmt: skip


COMPILED = "perceiver (exact KV cache, generate(compile_decode_step=True))"


def lucidrains_model(sizes: dict, prefix_len: int):
    """``perceiver_ar_pytorch.PerceiverAR`` of a comparable size, or ``None`` when the package is missing."""
    try:
        from perceiver_ar_pytorch import PerceiverAR
        from perceiver_ar_pytorch.autoregressive_wrapper import AutoregressiveWrapper
    except ImportError:
        return None
    net = PerceiverAR(
        num_tokens=sizes["vocab_size"],
        dim=sizes["num_channels"],
        depth=sizes["num_self_attention_layers"],
        heads=sizes["num_heads"],
        dim_head=sizes["num_channels"] // sizes["num_heads"],
        max_seq_len=sizes["max_seq_len"],
        cross_attn_seq_len=prefix_len,
        cross_attn_dropout=0.5,
    )
    return AutoregressiveWrapper(net)


def synced(fn):
    """``fn`` followed by a device synchronisation, so that wall time covers the queued GPU work."""

    def run():
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return out

    return run


def generation(
    sizes: dict, prompt_len: int, new_tokens: int, reps: int, device: str, compile_step: bool = True
) -> tuple[list[dict], dict]:
    torch.manual_seed(0)
    config = CausalLanguageModelConfig(**sizes, init_scale=0.1)
    model = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config)).to(device).eval()
    prompt = torch.randint(0, sizes["vocab_size"], (1, prompt_len), device=device)

    def ours(use_cache: bool):
        return synced(lambda: model.generate(prompt, max_new_tokens=new_tokens, num_latents=1, use_cache=use_cache))

    cached, uncached = ours(True)(), ours(False)()
    exact = torch.equal(cached, uncached)
    fns = {"perceiver (exact KV cache)": ours(True), "perceiver (no cache)": ours(False)}
    lucid = lucidrains_model(sizes, prompt_len - 1)
    if lucid is not None:
        lucid.to(device)
        fns["perceiver-ar-pytorch (no cache)"] = synced(lambda: lucid.generate(prompt, new_tokens))
    else:
        print("perceiver-ar-pytorch is not installed: its rows are skipped (pip install perceiver-ar-pytorch)")

    summary = {"cached_equals_uncached": exact}
    if compile_step:
        backend = model.backend_model

        def loop(compile: bool):
            return synced(lambda: generate_greedy(backend, prompt, new_tokens, num_latents=1, compile=compile))

        start = time.perf_counter()
        compiled_out = loop(True)()  # compiles the cached step once
        summary["compile_seconds"] = time.perf_counter() - start
        eager_out = loop(False)()
        summary["compiled_equals_eager"] = torch.equal(compiled_out.sequences, eager_out.sequences)
        summary["compiled_max_logit_diff"] = (compiled_out.logits - eager_out.logits).abs().max().item()
        fns["perceiver (KV cache, greedy loop)"] = loop(False)
        fns["perceiver (KV cache, greedy loop, compiled step)"] = loop(True)
        compiled_generate = synced(
            lambda: model.generate(prompt, max_new_tokens=new_tokens, num_latents=1, compile_decode_step=True)
        )
        summary["compiled_generate_equals_eager"] = torch.equal(compiled_generate(), cached)
        fns[COMPILED] = compiled_generate

    times = interleaved_medians(fns, reps=reps, warmup=1)
    rows = [{"generation": name, "seconds": t, "tokens/s": new_tokens / t} for name, t in times.items()]
    t_cached = times["perceiver (exact KV cache)"]
    summary["cached_vs_uncached"] = times["perceiver (no cache)"] / t_cached
    if lucid is not None:
        summary["cached_vs_perceiver_ar_pytorch"] = times["perceiver-ar-pytorch (no cache)"] / t_cached
    if compile_step:
        summary["compiled_cached_vs_uncached"] = times["perceiver (no cache)"] / times[COMPILED]
        if lucid is not None:
            lucid_time = times["perceiver-ar-pytorch (no cache)"]
            summary["compiled_cached_vs_perceiver_ar_pytorch"] = lucid_time / times[COMPILED]
        summary["compiled_step_speedup"] = (
            times["perceiver (KV cache, greedy loop)"] / times["perceiver (KV cache, greedy loop, compiled step)"]
        )
    return rows, summary


def training(sizes: dict, batch_size: int, reps: int, device: str) -> tuple[list[dict], dict]:
    torch.manual_seed(0)
    seq_len, max_latents = sizes["max_seq_len"], sizes["max_latents"]
    prefix_len = seq_len - max_latents
    model = CausalLanguageModel(CausalLanguageModelConfig(**sizes)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, sizes["vocab_size"], (batch_size, seq_len + 1), device=device)

    def ours():
        logits = model(x[:, :-1], prefix_len=prefix_len).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x[:, prefix_len + 1 :].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    fns = {"perceiver": synced(ours)}
    lucid = lucidrains_model(sizes, prefix_len)
    if lucid is not None:
        lucid.to(device).train()
        lucid_optimizer = torch.optim.AdamW(lucid.parameters(), lr=1e-4)

        def theirs():
            loss = lucid(x)
            lucid_optimizer.zero_grad()
            loss.backward()
            lucid_optimizer.step()

        fns["perceiver-ar-pytorch"] = synced(theirs)
    times = interleaved_medians(fns, reps=reps, warmup=1)
    rows = [{"train step": name, "seconds": t} for name, t in times.items()]
    summary = {}
    if lucid is not None:
        summary["train_step_perceiver_ar_pytorch_vs_ours"] = times["perceiver-ar-pytorch"] / times["perceiver"]
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small configuration (smoke test)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each generation")
    parser.add_argument("--train-reps", type=int, default=10, help="repetitions of each train step")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled decode step")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    sizes = QUICK if args.quick else CLM_S
    prompt_len, new_tokens, batch_size = (64, 32, 2) if args.quick else (512, 256, 4)
    start = time.perf_counter()
    gen_rows, gen_summary = generation(
        sizes, prompt_len, new_tokens, args.reps, args.device, compile_step=not args.no_compile
    )
    train_rows, train_summary = training(sizes, batch_size, args.train_reps, args.device)

    print(f"machine: {json.dumps(machine())}")
    name = "quick" if args.quick else "CLM-S"
    print_table(f"Generation, {name}: prompt {prompt_len}, {new_tokens} new tokens, greedy, batch 1", gen_rows)
    print_table(f"Train step, {name}: batch {batch_size} x {sizes['max_seq_len']}", train_rows)
    summary = gen_summary | train_summary
    print("\n" + "\n".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in summary.items()))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    suffix = ("-quick" if args.quick else "") + ("" if args.device == "cpu" else f"-{args.device}")
    path = save_results("generate" + suffix, {
        "config": sizes, "prompt_len": prompt_len, "new_tokens": new_tokens, "generation": gen_rows,
        "training": train_rows, "summary": summary,
    })  # fmt: skip
    print(f"results: {path}")


if __name__ == "__main__":
    main()
