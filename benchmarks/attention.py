"""Our SDPA attention against a naive einsum attention (how perceiver-io 0.11 and `transformers` compute it).

Cases: cross-attention of 256 latents over 2048 and 8192 inputs, self-attention over 512 latents; forward and
forward+backward; median time and peak memory above the process baseline, with ratios naive / ours.

    python benchmarks/attention.py
"""

import argparse
import json
import sys

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
from perceiver.model.core import MultiHeadAttention


class NaiveAttention(nn.Module):
    """Scores materialised with einsum, masked with a large negative number, softmax, weighted sum."""

    def __init__(self, mha: MultiHeadAttention):
        super().__init__()
        self.mha = mha

    def forward(self, x_q, x_kv, pad_mask=None):
        mha = self.mha
        h = mha.num_heads
        q, k, v = mha.q_proj(x_q), mha.k_proj(x_kv), mha.v_proj(x_kv)
        q, k, v = (t.unflatten(-1, (h, -1)).transpose(1, 2) for t in (q, k, v))
        scores = torch.einsum("bhic,bhjc->bhij", q * mha.dp_scale, k)
        if pad_mask is not None:
            scores = scores.masked_fill(pad_mask[:, None, None, :], -torch.finfo(scores.dtype).max)
        attn = scores.softmax(dim=-1)
        o = torch.einsum("bhij,bhjc->bhic", attn, v)
        return mha.o_proj(o.transpose(1, 2).flatten(2))


CASES = [
    # name, batch, n_q, n_kv, q channels, kv channels, heads
    ("cross 256x2048", 4, 256, 2048, 512, 256, 8),
    ("cross 256x8192", 4, 256, 8192, 512, 256, 8),
    ("self 512x512", 4, 512, 512, 512, 512, 8),
]


def setup(case):
    name, b, n_q, n_kv, c_q, c_kv, heads = case
    ours = MultiHeadAttention(heads, c_q, c_kv)
    naive = NaiveAttention(ours)
    x_q = torch.randn(b, n_q, c_q, requires_grad=True)
    x_kv = torch.randn(b, n_kv, c_kv, requires_grad=True)
    pad_mask = torch.zeros(b, n_kv, dtype=torch.bool)
    pad_mask[:, -n_kv // 8 :] = True  # padded inputs, as in batches of text

    def forward(m):
        def f():
            with torch.no_grad():
                m(x_q, x_kv, pad_mask)

        return f

    def forward_backward(m):
        def f():
            out = m(x_q, x_kv, pad_mask)
            out = out.last_hidden_state if isinstance(out, dict) else out
            out.sum().backward()

        return f

    return {
        (mode, impl): make(module)
        for mode, make in [("forward", forward), ("forward+backward", forward_backward)]
        for impl, module in [("ours", ours), ("naive", naive)]
    }


def memory() -> dict[str, float]:
    result = {}
    for case in CASES:
        for (mode, impl), fn in setup(case).items():
            fn()  # warm-up: one-time allocations are not the step's
            result[f"{case[0]}|{mode}|{impl}"] = peak_memory_mib(fn)
    return result


def run(reps: int) -> list[dict]:
    mem = memory_in_subprocess("benchmarks.attention")
    rows = []
    for case in CASES:
        fns = setup(case)
        for mode in ["forward", "forward+backward"]:
            t = interleaved_medians({impl: fns[(mode, impl)] for impl in ["ours", "naive"]}, reps=reps)
            m_ours, m_naive = mem[f"{case[0]}|{mode}|ours"], mem[f"{case[0]}|{mode}|naive"]
            rows.append(
                {
                    "case": case[0],
                    "mode": mode,
                    "ours ms": t["ours"] * 1e3,
                    "naive ms": t["naive"] * 1e3,
                    "speed-up": t["naive"] / t["ours"],
                    "ours MiB": m_ours,
                    "naive MiB": m_naive,
                    "memory ratio": m_ours / m_naive,
                }
            )
    return rows


def main() -> None:
    if measuring_memory():
        print(json.dumps(memory()))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(sys.argv[1:])
    rows = run(args.reps)
    info = machine()
    print_table(f"Attention: SDPA vs naive einsum ({info['device']}, {info['threads']} threads)", rows)
    print(f"\nresults: {save_results('attention', {'rows': rows})}")


if __name__ == "__main__":
    main()
