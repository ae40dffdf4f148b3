"""Measurement helpers shared by the benchmark scripts, and where the real data is.

Latencies are integer nanoseconds from ``time.perf_counter_ns``; percentiles are
nearest-rank, so a reported p99 is a latency that was actually observed.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exchange.data import data_dir

#: the real recordings (exchange/data.py says where)
DATA_DIR = data_dir()


def percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile of an ascending sequence (p in 0..100); 0 if empty."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def timer_overhead_ns(samples: int = 100_000) -> int:
    """Median cost of one ``perf_counter_ns`` pair around nothing."""
    ns = time.perf_counter_ns
    lat = [0] * samples
    for i in range(samples):
        t0 = ns()
        lat[i] = ns() - t0
    lat.sort()
    return lat[samples // 2]


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured: interpreter, platform, CPUs, load, CPU model."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "?",
        "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info
