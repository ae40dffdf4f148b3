"""Smoke test of bench/titan_bench.py: it runs and prints the promised JSON (not a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from helpers.paths import LOBSTER as LOBSTER_DIR
from helpers.paths import ROOT

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

LOBSTER = LOBSTER_DIR / "AAPL_2012-06-21_0930-1030_message.csv"

SCRIPT = ROOT / "bench" / "titan_bench.py"
KEYS = ("commands_per_second", "p50_us", "p99_us")


def _bench(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--repeat", "1", "--commands", "300", *args],
        cwd=ROOT.parent,  # the script must not depend on the working directory
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)  # exactly one JSON object
    return result


def _check_flow(r: dict[str, Any]) -> None:
    for key in KEYS:
        assert isinstance(r[key], int | float) and r[key] > 0, (key, r)
    lo, hi = r["commands_per_second_range"]
    assert 0 < lo <= r["commands_per_second"] <= hi
    assert r["p50_us"] <= r["p99_us"]
    assert r["commands"] == 300 and r["events"] >= 300


def test_synthetic_flow_json() -> None:
    r = _bench("--flows", "synthetic")
    assert set(r) == {"synthetic", "machine"}
    _check_flow(r["synthetic"])
    assert r["synthetic"]["seed_commands"] >= 4 * 10_000  # deep-book seed
    assert r["machine"]["python"] and r["machine"]["cpu_count"]


@pytest.mark.data(LOBSTER)
def test_both_flows_json() -> None:
    r = _bench()
    assert {"lobster", "synthetic", "machine"} <= set(r)
    _check_flow(r["lobster"])
    _check_flow(r["synthetic"])


def test_human_output_and_bad_flags() -> None:
    run = [sys.executable, str(SCRIPT), "--repeat", "1", "--commands", "200"]
    table = subprocess.run(
        [*run, "--flows", "synthetic"], capture_output=True, text=True, timeout=600
    )
    assert table.returncode == 0, table.stderr
    assert "synthetic" in table.stdout and "cmd/s" in table.stdout
    bad = subprocess.run([*run, "--flows", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown flow" in bad.stderr
