"""Run every benchmark (each in its own process, one after the other) and write ``docs/performance.md`` and
``benchmarks/results/all.json`` from their results.

    python -m benchmarks.run [--only attention,mlm] [--reps N]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS_DIR, machine

ROOT = Path(__file__).parents[1]
NOTES_MARKER = "<!-- notes below are kept by make bench -->"
SUITE = {
    "attention": "SDPA attention against naive einsum attention (the way perceiver-io 0.11 and `transformers` compute)",
    "mlm": "Masked LM (MLM-S) against `transformers`' PerceiverForMaskedLM",
    "vision": "Fourier image classifier against `transformers`' PerceiverForImageClassificationFourier",
    "generate": "Perceiver AR (CLM-S): exact cached vs uncached generation, against `perceiver-ar-pytorch`",
    "scaling": "Encoder against input length, Perceiver AR training against prefix length",
    "compile": "`compile=True` on the Lightning modules: compiled backend against eager (eval forward, train step)",
}


def run_suite(names: list[str], reps: int | None) -> dict[str, float]:
    seconds = {}
    for name in names:
        cmd = [sys.executable, "-m", f"benchmarks.{name}"] + ([] if reps is None else ["--reps", str(reps)])
        print(f"\n==> {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT)
        seconds[name] = time.perf_counter() - start
    return seconds


def table(rows: list[dict]) -> str:
    if not rows:
        return ""
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(h, "")) for h in headers) + " |")
    return "\n".join(lines)


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def render_section(name: str, data: dict) -> str:
    parts = [f"## {name}\n", f"{SUITE.get(name, '')}. Command: `python -m benchmarks.{name}`.\n"]
    for key, value in data.items():
        if key == "machine":
            continue
        title = key.replace("_", " ")
        if isinstance(value, list) and value and isinstance(value[0], dict):
            parts.append(f"**{title}**\n\n{table(value)}\n")
        elif isinstance(value, dict) and value and all(not isinstance(v, dict | list) for v in value.values()):
            parts.append(f"**{title}**\n\n{table([{'measure': k, 'value': v} for k, v in value.items()])}\n")
        elif not isinstance(value, dict | list):
            parts.append(f"- {title}: {fmt(value)}\n")
    return "\n".join(parts)


def render(results: dict[str, dict], seconds: dict[str, float]) -> str:
    info = machine()
    header = f"""# Performance

Written by `make bench` (`python -m benchmarks.run`); do not edit by hand. Every figure is a median over several
repetitions after warm-up, the candidates interleaved in one process; peak memory is measured above the process
baseline in a separate process (CUDA allocator statistics on a GPU, the resident set on the CPU). Ratios compare
ours with the peer in the same run: speed-up = peer time / our time; memory ratio = our memory / the peer's.

Machine: {info["cpu"]}, {info["threads"]} torch threads, device {info["device"]}; Python {info["python"]},
torch {info["torch"]}, transformers {info["transformers"]}. Timings on a shared 2-core machine are noisy: compare
ratios, not absolute times.

The scaling plot: ![scaling](images/scaling.png)
"""
    sections = [render_section(name, data) for name, data in results.items()]
    footer = "\n".join(f"- `{name}`: {s:.0f} s" for name, s in seconds.items())
    return header + "\n" + "\n".join(sections) + ("\n## Wall time of this run\n\n" + footer + "\n" if footer else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(SUITE), help="comma-separated benchmark names")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement (default: each's own)")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the docs from saved results")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    seconds = {} if args.render_only else run_suite(names, args.reps)
    results = {}
    for name in SUITE:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    (RESULTS_DIR / "all.json").write_text(json.dumps(results, indent=2))
    out = ROOT / "docs" / "performance.md"
    # hand-written notes below the marker (comparisons across sessions, GPU runs) survive a new run
    notes = out.read_text().partition(NOTES_MARKER)[2] if out.exists() else ""
    out.write_text(render(results, seconds) + (f"\n{NOTES_MARKER}{notes}" if notes else ""))
    print(f"\nwrote {out} and {RESULTS_DIR / 'all.json'}")


if __name__ == "__main__":
    main()
