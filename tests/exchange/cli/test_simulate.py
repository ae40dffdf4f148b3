"""``exchange simulate`` (exchange.cli.simulate): status lines, summary, determinism, Ctrl+C."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.paths import ROOT

from exchange.cli.simulate import simulate
from exchange.config.symbols import default_specs

HASH = re.compile(r"state hash: ([0-9a-f]{64})")
STATUS = re.compile(r"^\[\s*([\d,]+)\] events [\d,]+  trades [\d,]+  rejects [\d,]+  \|", re.M)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "simulate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _hash(out: str) -> str:
    m = HASH.search(out)
    assert m, out
    return m.group(1)


@pytest.fixture(scope="module")
def seed1() -> subprocess.CompletedProcess[str]:
    return _run("--commands", "20000", "--report-every", "5000")


@pytest.mark.slow_io
def test_run_reports_status_and_sound_summary(seed1: subprocess.CompletedProcess[str]) -> None:
    assert seed1.returncode == 0, seed1.stderr
    out = seed1.stdout
    assert "Traceback" not in out + seed1.stderr
    assert "BTCUSDT" in out and "seed 1" in out and "Ctrl+C to stop" in out
    counts = [int(c.replace(",", "")) for c in STATUS.findall(out)]
    assert counts == [5_000, 10_000, 15_000, 20_000]
    status = [line for line in out.splitlines() if STATUS.match(line)]
    assert all("cmd/s" in line and "open" in line for line in status)
    assert re.search(r"BTCUSDT \d+\.\d/\d+\.\d", status[-1]), status[-1]
    assert re.search(r"ETHUSDT \d+\.\d\d/\d+\.\d\d", status[-1]), status[-1]
    assert "after 20,000 commands" in out
    assert "invariants: ok (no violations)" in out
    _hash(out)


@pytest.mark.slow_io
def test_same_seed_same_hash_other_seed_other_hash(
    seed1: subprocess.CompletedProcess[str],
) -> None:
    again = _run("--commands", "20000", "--report-every", "5000")
    other = _run("--commands", "20000", "--report-every", "5000", "--seed", "2")
    assert again.returncode == 0 and other.returncode == 0
    assert _hash(again.stdout) == _hash(seed1.stdout)
    assert _hash(other.stdout) != _hash(seed1.stdout)


def test_report_interval_does_not_change_the_result() -> None:
    a, b = io.StringIO(), io.StringIO()
    assert simulate(default_specs(), 3, 7_000, 1_000, a) == 0
    assert simulate(default_specs(), 3, 7_000, 3_000, b) == 0
    assert _hash(a.getvalue()) == _hash(b.getvalue())
    assert len(STATUS.findall(a.getvalue())) == 7
    assert len(STATUS.findall(b.getvalue())) == 2


def test_stop_request_prints_summary() -> None:
    out = io.StringIO()
    calls = iter(["", "", "", "Ctrl+C"])
    status = simulate(default_specs(), 1, None, 100_000, out, lambda: next(calls))
    assert status == 0
    text = out.getvalue()
    assert "stopped: Ctrl+C after 3,000 commands" in text
    assert "invariants: ok (no violations)" in text


@pytest.mark.slow_io
def test_config_file_and_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "symbols.toml"
    cfg.write_text('[symbols.SOLUSDT]\ntick_size = "0.01"\nlot_size = "1"\nmin_notional = "5"\n')
    ok = _run("--config", str(cfg), "--commands", "3000", "--report-every", "1000")
    assert ok.returncode == 0, ok.stderr
    assert "SOLUSDT" in ok.stdout and "invariants: ok" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[symbols.X]\n")
    failed = _run("--config", str(bad), "--commands", "10")
    assert failed.returncode == 2
    assert failed.stderr.startswith("exchange: error:") and "Traceback" not in failed.stderr


@pytest.mark.slow_io
@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly(signum: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "simulate", "--report-every", "2000"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for the first status line
            line = proc.stdout.readline()
            if not line or STATUS.match(line):
                break
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in rest + err
    assert "stopped: " in rest and "invariants: ok (no violations)" in rest
    assert HASH.search(rest)
