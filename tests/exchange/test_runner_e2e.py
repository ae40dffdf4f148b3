"""The assembled platform end to end, as a user runs it: ``exchange run`` in a subprocess.

Runs with the simulated feed and with the Binance feed against the local replay server
(real recorded frames over a real websocket), stopped with SIGTERM or killed with
SIGKILL; then the journal is checked with ``exchange replay --verify --json`` and
``exchange inspect``: it verifies, holds the price updates and the trades, shows
liquidations after a volatile run, resumes at the next seq with the same state hash, and
a kill loses nothing the platform had reported durable.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import BINANCE, ROOT

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

RECORDING = BINANCE / "usdm_btcusdt_2023-04-04_streams.jsonl.gz"

STATUS = re.compile(r"^\[seq\s+([\d,]+)\]")
FAST = ["--metrics-port", "0", "--status-interval", "0.3", "--step-interval", "0.1"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("ROCKSDB_PATH", "PROMETHEUS_PORT", "LOG_LEVEL"):
        env.pop(name, None)
    return env


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "exchange", "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or _env(),
    )


def _wait_status(
    proc: subprocess.Popen[str], min_seq: int, timeout: float = 60
) -> tuple[int, list[str]]:
    """Read stdout until a status line reports a durable seq >= min_seq."""

    def durable(line: str) -> int | None:
        m = STATUS.match(line)
        return int(m.group(1).replace(",", "")) if m else None

    return _wait_for(proc, lambda line: (durable(line) or 0) >= min_seq, durable, timeout)


def _wait_for(
    proc: subprocess.Popen[str],
    wanted: Any,
    value: Any = lambda line: 0,
    timeout: float = 60,
) -> tuple[int, list[str]]:
    """Read stdout until a line is ``wanted``; (``value`` of that line, all text read).

    Reads the pipe's file descriptor directly (with a deadline, so a hung platform fails
    the test instead of hanging it); the text returned includes a partial last line, so
    nothing is lost for the caller.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    text = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        text += chunk.decode()
        for line in text.splitlines():
            if wanted(line):
                return value(line), [text]
    raise AssertionError(f"the line waited for did not come: {text}")


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )


def _replay(journal: Path, *extra: str) -> dict[str, Any]:
    proc = _cli("replay", str(journal), "--verify", "--json", *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _hash_from_summary(out: str) -> str:
    m = re.search(r"state hash ([0-9a-f]{64})", out)
    assert m, out
    return m.group(1)


def test_sim_run_sigterm_verifies_and_resumes(tmp_path: Path) -> None:
    journal = tmp_path / "events"
    proc = _start("--journal", str(journal), "--volatility", "0", *FAST)
    seen, _ = _wait_status(proc, 300)
    code, out, err = _stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    assert "stopping (SIGTERM)" in out
    final = _hash_from_summary(out)
    data = _replay(journal)
    assert data["verified"] is True and data["first_divergence"] is None
    assert data["last_seq"] >= seen
    assert data["state_hash"] == final
    kinds = data["inputs_by_kind"]
    assert kinds["mark_prices"] >= 2 and kinds["orders"] > 100 and kinds["deposits"] >= 13
    trades = _cli("inspect", str(journal), "--kind", "trades", "--json")
    assert trades.returncode == 0 and len(trades.stdout.splitlines()) > 0
    # the demo: 1001-1003 each opened 0.5 BTC long, 10x isolated, at about 50,000
    demo = {p["account"]: p for p in data["positions"] if p["account"] in (1001, 1002, 1003)}
    assert sorted(demo) == [1001, 1002, 1003]
    for p in demo.values():
        assert p["symbol"] == "BTCUSDT" and Decimal(p["size"]) == Decimal("0.5")
        assert abs(Decimal(p["entry_price"]) - 50_000) < 250
        assert p["margin_type"] == "isolated" and p["leverage"] == 10
    # a restart resumes at the next seq from the same state
    last = data["last_seq"]
    proc = _start("--journal", str(journal), "--volatility", "0", *FAST)
    _, early = _wait_status(proc, last + 50)
    code, out2, err2 = _stop(proc)
    out2 = "".join(early) + out2
    assert code == 0, err2
    assert f"resumed journal at seq {last:,}" in out2
    assert f"state hash {final[:16]}" in out2
    data2 = _replay(journal)
    assert data2["last_seq"] > last
    # the first new record is seq last + 1 and the state at `last` is unchanged
    first_new = _cli("inspect", str(journal), "--from", str(last + 1), "--limit", "1", "--json")
    assert json.loads(first_new.stdout.splitlines()[0])["seq"] == last + 1
    assert _replay(journal, "--to-seq", str(last))["state_hash"] == final


def test_volatile_run_liquidates(tmp_path: Path) -> None:
    journal = tmp_path / "events"
    proc = _start(
        "--journal",
        str(journal),
        "--volatility",
        "0.05",
        "--seed",
        "1",
        *FAST,
        "--step-interval",
        "0.05",
    )
    _, lines = _wait_for(proc, lambda line: line.startswith("[LIQUIDATION]"))
    code, out, err = _stop(proc)
    assert code == 0, err
    assert "[LIQUIDATION]" in "".join(lines) + out, "".join(lines) + out
    data = _replay(journal)
    assert data["liquidations"] >= 1
    liq = _cli("inspect", str(journal), "--kind", "liquidations", "--json")
    assert len(liq.stdout.splitlines()) >= 1


def test_sigkill_loses_nothing_reported_durable(tmp_path: Path) -> None:
    journal = tmp_path / "events"
    proc = _start("--journal", str(journal), "--rate", "3000", *FAST)
    durable, _ = _wait_status(proc, 2_000)
    code, _, _ = _stop(proc, signal.SIGKILL)
    assert code == -signal.SIGKILL
    data = _replay(journal)  # opens, verifies the chain and re-executes every record
    assert data["last_seq"] >= durable
    # and the platform starts again on it
    proc = _start("--journal", str(journal), *FAST)
    _, early = _wait_status(proc, data["last_seq"] + 10)
    code, out, err = _stop(proc)
    out = "".join(early) + out
    assert code == 0, err
    assert f"resumed journal at seq {data['last_seq']:,}" in out
    assert _replay(journal)["verified"] is True


def test_second_platform_on_the_same_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "events"
    first = _start("--journal", str(journal), *FAST)
    try:
        _wait_status(first, 1)
        second = _cli("run", "--journal", str(journal), "--metrics-port", "0", "--duration", "5")
        assert second.returncode == 2
        assert "in use by another running platform" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        code, _, err = _stop(first)
    assert code == 0, err


def _recorded_marks() -> list[str]:
    marks = []
    with gzip.open(RECORDING, "rt") as f:
        for line in f:
            _, _, text = line.partition(" ")
            frame = json.loads(text)
            if frame.get("data", {}).get("e") == "markPriceUpdate":
                marks.append(frame["data"]["p"])
    return marks


@pytest.mark.data(RECORDING)
def test_binance_feed_against_the_replay_server(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "exchange.feeds.replay_server", "--port", "0", "--speed", "20",
         "--quiet", "--fault", "1:drop:5", "--fault", "2:garbage:3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:")
        journal = tmp_path / "events"
        proc = _start(
            "--journal", str(journal), "--feed", "binance", "--binance-url", url,
            "--symbols", "BTCUSDT", *FAST,
        )  # fmt: skip
        _wait_status(proc, 200)
        code, out, err = _stop(proc)
        assert code == 0, err
        assert "Traceback" not in err
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    data = _replay(journal)
    assert data["inputs_by_kind"]["mark_prices"] >= 5
    assert data["inputs_by_kind"]["orders"] > 50
    # every journaled mark is the recording's, in order, once: the marks a reconnect
    # replayed (the server starts each connection from the beginning) were skipped
    recorded = [
        Decimal(p).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN) for p in _recorded_marks()
    ]
    shown = _cli("inspect", str(journal), "--kind", "mark_prices", "--json")
    prices = [Decimal(json.loads(x)["input"]["price"]) for x in shown.stdout.splitlines()]
    assert prices and prices == recorded[: len(prices)]
    assert "feed marks skipped as not newer than the last" in out


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--rate", "-1"], {}, "rate '-1' must not be negative"),
        (["--metrics-port", "70000"], {}, "not a port number"),
        (["--volatility", "nan"], {}, "not a finite number"),
        (["--symbols", "DOGEUSDT"], {}, "DOGEUSDT not configured"),
        (["--config", "/nonexistent.toml"], {}, "cannot read"),
        (["--feed", "carrier-pigeon"], {}, "invalid choice"),
        (["--binance-url", "http://x"], {}, "must start with ws://"),
        (["--metrics-host", "192.0.2.1"], {}, "metrics endpoint 192.0.2.1:9000"),
        (["--metrics-host", "no such host!"], {}, "is not an address"),
        ([], {"PROMETHEUS_PORT": "abc"}, "PROMETHEUS_PORT='abc'"),
        ([], {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD'"),
    ],
)
def test_bad_flags_and_environment(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exchange", "run", "--journal", str(tmp_path / "j"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=_env() | env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "j").exists()  # nothing was created


def test_journal_path_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a journal")
    proc = _cli("run", "--journal", str(target), "--metrics-port", "0", "--duration", "1")
    assert proc.returncode == 2
    assert "is not a directory" in proc.stderr
    assert target.read_text() == "not a journal"


def test_environment_sets_journal_and_duration_stops(tmp_path: Path) -> None:
    env = _env() | {"ROCKSDB_PATH": str(tmp_path / "from-env"), "PROMETHEUS_PORT": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "exchange", "run", "--duration", "2", "--status-interval", "0.5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "stopped (--duration 2 s)" in proc.stdout
    assert (tmp_path / "from-env").is_dir()
    assert not (tmp_path / "platform_events").exists()
    assert _replay(tmp_path / "from-env")["verified"] is True


def test_a_titan_journal_is_named_and_refused(tmp_path: Path) -> None:
    journal = tmp_path / "titan"
    made = _cli("simulate", "--commands", "500", "--journal", str(journal))
    assert made.returncode == 0, made.stderr
    proc = _cli("run", "--journal", str(journal), "--metrics-port", "0", "--duration", "2")
    assert proc.returncode == 2
    assert "records a titan machine" in proc.stderr and "Traceback" not in proc.stderr
    # and a platform journal with other symbols is named as such
    other = tmp_path / "eth"
    first = _cli("run", "--journal", str(other), "--symbols", "ETHUSDT", "--metrics-port", "0",
                 "--duration", "1")  # fmt: skip
    assert first.returncode == 0, first.stderr
    proc = _cli("run", "--journal", str(other), "--metrics-port", "0", "--duration", "1")
    assert proc.returncode == 2
    assert "other symbols (journal: ETHUSDT; now: BTCUSDT, ETHUSDT)" in proc.stderr


def test_a_taken_metrics_port_is_refused_before_the_journal_is_made(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli("run", "--journal", str(tmp_path / "j"), "--metrics-port", str(port))
    assert proc.returncode == 2
    assert f"metrics endpoint 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "j").exists()


def test_a_second_signal_exits_at_once_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    journal = tmp_path / "events"
    proc = _start("--journal", str(journal), "--rate", "0", *FAST)
    durable, _ = _wait_status(proc, 5_000)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err  # 0 if the drain beat the second signal
    assert "Traceback" not in err
    data = _replay(journal)
    assert data["last_seq"] >= durable


@pytest.mark.slow_io
def test_run_serves_the_api_with_a_demo_key_kept_across_restarts(tmp_path: Path) -> None:
    import json
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    journal = tmp_path / "j"
    keys = []
    for _ in range(2):
        proc = _start(
            "--journal", str(journal), *FAST, "--api-port", str(port), "--admin-port", "0"
        )
        try:
            _, seen = _wait_status(proc, 1)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/fapi/v1/exchangeInfo") as r:
                info = json.loads(r.read())
            assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
        finally:
            proc.terminate()
            rest, _ = proc.communicate(timeout=60)
        out = "\n".join(seen) + "\n" + rest
        assert proc.returncode == 0, out
        banner = [line for line in out.splitlines() if "API key" in line]
        assert len(banner) == 1 and "demo account 10001" in banner[0]
        keys.append(banner[0].split()[-1])
        assert f"http://localhost:{port}/fapi/v1" in out
    assert keys[0] == keys[1] and len(keys[0]) == 64
    assert (tmp_path / "j.keys.json").stat().st_mode & 0o777 == 0o600
