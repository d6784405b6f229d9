"""Shared by the benchmark scripts: interleaved timing and a results file per benchmark.

Machines are noisy, so every claim is a ratio of two timings taken in the same run, interleaved
(A, B, A, B, ...) so that drifts in clock speed or background load hit both alike.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, interleaved (order reversed every other repeat); seconds per call."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    for r in range(repeats):
        for name in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
            fn = fns[name]
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(times: dict[str, list[float]], num: str, den: str) -> float:
    """Median of per-repeat ratios num/den (paired, so robust to drifts)."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))


def save(name: str, result: dict, command: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    record = {
        "benchmark": name,
        "command": command,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"),
        **result,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
