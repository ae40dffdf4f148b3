"""Smoke test of bench/sentinel_bench.py: it runs small and prints the promised JSON.

Not a timed test: no timing target is asserted, only that the figures exist, are positive
and agree with each other (percentiles ordered, medians inside their ranges, the full-scan
ratio equal to scan / indexed), and that bad flags fail cleanly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from helpers.paths import ROOT

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

SCRIPT = ROOT / "bench" / "sentinel_bench.py"
ACCOUNTS = 2000
LABEL = "2k"  # the script's size label for 2000
KS = (1, 10, 100)
CROSSED_TICKS = 4


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT.parent,  # the script must not depend on the working directory
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _number(r: dict[str, Any], key: str) -> float:
    value = r[key]
    assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
    assert value > 0, (key, value)
    if f"{key}_min" in r:
        assert 0 < r[f"{key}_min"] <= value <= r[f"{key}_max"], key
    return float(value)


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    out = _run(
        "--json",
        "--sizes",
        str(ACCOUNTS),
        "--ticks",
        "200",
        "--repeat",
        "2",
        "--crossed-ticks",
        str(CROSSED_TICKS),
    )
    assert out.returncode == 0, out.stderr
    r: dict[str, Any] = json.loads(out.stdout)  # exactly one JSON object
    return r


def test_clear_tick_figures(result: dict[str, Any]) -> None:
    r = result
    assert r[f"accounts_{LABEL}"] == ACCOUNTS
    p50 = _number(r, f"p50_us_{LABEL}")
    p99 = _number(r, f"p99_us_{LABEL}")
    top = _number(r, f"max_us_{LABEL}")
    assert p50 <= p99 <= top
    for stat in ("p50_us", "p99_us", "max_us"):  # every trial ordered too, not just medians
        assert r[f"{stat}_{LABEL}_min"] <= r[f"{stat}_{LABEL}_max"]
    assert r[f"p50_us_{LABEL}_min"] <= r[f"p99_us_{LABEL}_max"] <= r[f"max_us_{LABEL}_max"]
    _number(r, f"mean_us_{LABEL}")


def test_full_scan_ratio_is_scan_over_indexed(result: dict[str, Any]) -> None:
    r = result
    scan = _number(r, f"full_scan_us_{LABEL}")
    ratio = _number(r, f"full_scan_ratio_{LABEL}")
    assert ratio == pytest.approx(scan / r[f"p50_us_{LABEL}"], abs=0.051)
    # one clear tick and the first crossed tick of each k, per trial
    assert r[f"full_scan_samples_{LABEL}"] == 2 * (1 + len(KS))


def test_crossed_figures(result: dict[str, Any]) -> None:
    r = result
    liquidations = 0
    for k in KS:
        key = f"crossed_{k}"
        accounts = r[f"{key}_accounts_{LABEL}"]
        assert len(accounts) == 2 and all(a >= k for a in accounts), (k, accounts)
        tick = _number(r, f"{key}_tick_us_{LABEL}")
        assert tick <= _number(r, f"{key}_tick_max_us_{LABEL}")
        per = _number(r, f"{key}_per_liquidation_us_{LABEL}")
        if accounts == [k, k]:
            assert per == pytest.approx(tick / k, rel=1e-6, abs=0.011)
        liquidations += sum(accounts) * CROSSED_TICKS // 2
    assert r[f"liquidations_{LABEL}"] == 2 * liquidations  # two trials


def test_memory_and_metadata(result: dict[str, Any]) -> None:
    r = result
    _number(r, "bytes_per_account")
    _number(r, "traced_bytes_per_account")
    _number(r, f"rss_bytes_per_account_{LABEL}")
    assert r["bytes_per_account_method"] == "rss_delta"
    assert r["bytes_per_account_accounts"] == r["traced_accounts"] == ACCOUNTS
    assert r["traced_top_lines_bytes_per_account"]
    assert r[f"invariants_checked_{LABEL}"] is True
    assert "p99_us_1m" not in r  # the 1M headline exists only when 1M was measured
    t = r["targets"]
    assert t["p99_met"] is None and t["scan_ratio_met"] is None
    assert isinstance(t["bytes_met"], bool)
    p = r["parameters"]
    assert p["sizes"] == [ACCOUNTS] and p["ticks"] == 200 and p["repeat"] == 2
    assert p["ks"] == list(KS) and p["crossed_ticks"] == CROSSED_TICKS
    m = r["machine"]
    assert m["cpu_count"] and m["python"] == r["python"]
    assert r["command"].startswith("python bench/sentinel_bench.py --json --sizes 2000")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sizes", "2000,abc"], "--sizes"),
        (["--sizes", "2001"], "--sizes"),
        (["--sizes", "100"], "--sizes"),
        (["--ks", "0"], "--ks"),
        (["--sizes", "2000", "--ks", "1000"], "--ks"),
        (["--ticks", "0"], "--ticks"),
        (["--repeat", "0"], "--repeat"),
        (["--ticks", "many"], "--ticks"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_flags_exit_2(args: list[str], needle: str) -> None:
    bad = _run(*args, timeout=60)
    assert bad.returncode == 2, bad.stderr
    assert needle in bad.stderr
    assert "Traceback" not in bad.stderr
    assert bad.stdout == ""
