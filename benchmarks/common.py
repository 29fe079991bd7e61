"""Measurement helpers shared by the benchmark scripts: interleaved median timings, peak memory, FLOP rates.

Benchmarks are not tests: they print tables and ratios and are run with ``make bench``.
"""

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS_DIR = Path(__file__).parent / "results"
MEMORY_FLAG = "--memory-json"


def interleaved_medians(fns: dict[str, Callable[[], object]], reps: int = 10, warmup: int = 2) -> dict[str, float]:
    """Median wall time in seconds of each function; the candidates run in turn, so drifts in machine speed hit
    them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise KeyError(key)


def peak_memory_mib(fn: Callable[[], object]) -> float:
    """Peak memory of one call above what the process held before it, in MiB (CUDA allocator statistics on a
    GPU, resident set size on the CPU)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the high-water mark VmHWM to the current RSS
    before = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - before) / 1024


def measuring_memory() -> bool:
    """True in the child process that ``memory_in_subprocess`` starts."""
    return MEMORY_FLAG in sys.argv


def memory_in_subprocess(module: str, *args: str) -> dict:
    """Run ``python -m module ... --memory-json`` and return the JSON dict it prints last.

    Peak memory on the CPU is read from the resident set, which glibc's caching of freed blocks would hide; the
    child runs with a fixed mmap threshold so that every large tensor goes back to the OS when freed, while the
    timings in the parent run with the allocator's normal behaviour.
    """
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    cmd = [sys.executable, "-m", module, *args, MEMORY_FLAG]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def count_flops(fn: Callable[[], object]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_peak_gflops(n: int = 2048, reps: int = 5) -> float:
    """The machine's fp32 matmul rate (GFLOP/s) on a large square ``torch.mm``: the ceiling for dense models."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    seconds = interleaved_medians({"mm": lambda: torch.mm(a, b)}, reps=reps, warmup=1)["mm"]
    return 2 * n**3 / seconds / 1e9


def machine() -> dict[str, str]:
    import transformers

    return {
        "cpu": platform.processor() or platform.machine(),
        "threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    }


def print_table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n## {title}\n")
    if not rows:
        return
    headers = list(rows[0])
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(_fmt(row[h]) for h in headers) + " |")


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def save_results(name: str, results: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **results}, indent=2))
    return path
