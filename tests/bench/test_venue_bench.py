"""Smoke test of bench/venue_bench.py: it runs small, prints the promised JSON, does the
same work every time (equal digests and state hashes across runs and seeds differ), and
refuses bad flags. Not a timed test: no timing target is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from helpers.paths import ROOT

pytestmark = pytest.mark.slow_io  # every test runs a subprocess

SCRIPT = ROOT / "bench" / "venue_bench.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT.parent,  # the script must not depend on the working directory
        capture_output=True,
        text=True,
        timeout=300,
    )


def _json(*args: str) -> dict[str, Any]:
    done = _run("--json", "--repeat", "2", "--commands", "1500", *args)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_json_figures_and_the_same_work_every_run() -> None:
    first, second, other = _json(), _json(), _json("--seed", "3")
    t = first["us_per_input"]
    assert len(t["trials"]) == 2 and 0 < t["min"] <= t["median"] <= t["max"]
    assert first["commands"] == 1500
    assert first["events"] > first["commands"] // 2 and first["trades"] > 0
    assert first["liquidations"] > 0  # the stream exercises the liquidation path
    assert (first["event_digest"], first["state_hash"]) == (
        second["event_digest"],
        second["state_hash"],
    )
    assert other["event_digest"] != first["event_digest"]


@pytest.mark.parametrize("args", [["--commands", "0"], ["--repeat", "0"], ["--nope"]])
def test_bad_flags_fail_cleanly(args: list[str]) -> None:
    done = _run(*args)
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr
