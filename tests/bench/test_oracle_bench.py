"""Smoke test of bench/oracle_bench.py: it runs and prints the promised JSON (not a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import ROOT

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

SCRIPT = ROOT / "bench" / "oracle_bench.py"
REQUIRED = (
    "append_sync_per_second",
    "append_async_per_second",
    "raw_ceiling_per_second",
    "replay_per_second",
    "snapshot_recovery_best_speedup",
    "bytes_per_record",
    "snapshot_recovery_speedup",
    "audit_per_second",
    "verify_per_second",
    "sync_vs_raw_ratio",
    "async_vs_raw_ratio",
)
RATIOS = ("sync_vs_raw_ratio", "async_vs_raw_ratio")


def test_oracle_bench_json(tmp_path: Path) -> None:
    records = 20_000
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--json",
            "--records",
            str(records),
            "--repeat",
            "1",
            "--dir",
            str(tmp_path),
        ],
        cwd=ROOT.parent,  # the script must not depend on the working directory
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    r: dict[str, Any] = json.loads(out.stdout)  # exactly one JSON object
    for key in REQUIRED:
        assert isinstance(r[key], int | float) and r[key] > 0, (key, r.get(key))
        if f"{key}_min" in r:
            assert r[f"{key}_min"] <= r[key] <= r[f"{key}_max"], key
    assert r["snapshot_recovery_best_speedup"] > 1 and r["snapshot_recovery_speedup"] > 1
    for key in RATIOS:
        assert 0 < r[key] < 3, (key, r[key])
    p = r["parameters"]
    assert p["records"] == records and p["repeat"] == 1 and p["batch"] == 1024
    assert r["snapshots_stored"] == 10 and r["snapshot_seq"] == records
    assert r["snapshot_worst_tail_records"] == p["snapshot_every"] - 1
    m = r["machine"]
    assert m["cpu_count"] and m["python"] and m["rocksdict"]
    assert list(tmp_path.iterdir()) == []  # scratch journals removed


def test_oracle_bench_rejects_bad_flags() -> None:
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--records", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--records" in bad.stderr
