"""Smoke test of bench/e2e.py: it runs small and prints the promised JSON.

Not a timed test: no timing target is asserted, only that the figures exist, are
consistent (every input was committed, percentiles ordered, medians inside their
ranges, the metrics endpoint was scraped), and that bad flags fail cleanly.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers.paths import ROOT

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

SCRIPT = ROOT / "bench" / "e2e.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT.parent,  # the script must not depend on the working directory
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bench_e2e_json() -> None:
    proc = _run("--json", "--orders", "3000", "--repeat", "1", "--rate", "2000")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["orders_per_second"] > 0 and out["p99_ms_intake_to_durable"] > 0
    assert out["durability"] == "sync" and out["inputs_per_trial"] == 3000
    assert out["peak_rss_bytes"] > 0 and out["machine"]
    for mode in ("flat_out", "paced"):
        for metrics in ("on", "off"):
            s = out["modes"][mode][metrics]
            assert s["p50_ms"] <= s["p99_ms"] <= s["p999_ms"] <= s["max_ms"]
            ops = s["orders_per_second"]
            assert ops["min"] <= ops["median"] <= ops["max"]
            (trial,) = s["trials"]
            assert trial["inputs"] == 3000  # every input committed
            assert trial["orders"] < trial["inputs"]
    paced = out["modes"]["paced"]["on"]["trials"][0]
    assert paced["seconds"] >= 3000 / 2000 * 0.9  # paced at 2,000/s: about 1.5 s
    assert out["metrics_on_vs_off"]["median"] > 0


def test_bench_e2e_bad_flags() -> None:
    proc = _run("--orders", "10")
    assert proc.returncode == 2 and "--orders >= 1000" in proc.stderr
    assert "Traceback" not in proc.stderr
