"""The CLI's contract with users: help, command files, configs and bad input.

Every bad file, line, field or flag must produce a one-line error naming what is wrong,
exit status 2, no traceback, and (for command files) no command executed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.paths import ROOT

from exchange.cli.main import main


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def new(**fields: object) -> str:
    base: dict[str, object] = {
        "cmd": "new",
        "symbol": "BTCUSDT",
        "account": 1,
        "side": "BUY",
        "qty": "0.010",
        "price": "50000.0",
    }
    base.update(fields)
    return json.dumps(base)


@pytest.mark.slow_io
def test_help_lists_subcommands() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for sub in ("run", "simulate", "titan", "lobster", "replay", "hash", "inspect"):
        assert sub in proc.stdout


@pytest.mark.slow_io
def test_no_subcommand_prints_help_and_fails() -> None:
    proc = run_cli()
    assert proc.returncode == 2
    assert "COMMAND" in proc.stdout


def test_titan_command_file_trades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "cmds.jsonl",
        [
            "# a maker and a taker",
            new(account=1, side="SELL", qty="0.010"),
            new(account=2, side="BUY", qty="0.004", tif="IOC", client_order_id="t1"),
        ],
    )
    assert main(["titan", str(path)]) == 0
    out = capsys.readouterr().out
    events = [json.loads(line) for line in out.splitlines() if not line.startswith("#")]
    kinds = [e["event"] for e in events]
    assert kinds == ["Accepted", "Accepted", "Trade"]
    trade = events[2]
    assert trade["price"] == "50000.0"
    assert trade["qty"] == "0.004"
    assert trade["maker_order_id"] == 1 and trade["taker_order_id"] == 2
    assert trade["maker_remaining"] == "0.006"
    assert "ask 50000.0 0.006 1" in out


@pytest.mark.slow_io
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({"cmd": "fly"}), "field 'cmd'"),
        (new(price="50000.05"), "price"),
        (new(qty="0.0001"), "qty"),
        (new(qty="abc"), "qty"),
        (new(symbol="DOGEUSDT"), "unknown symbol 'DOGEUSDT'"),
        (new(side="UP"), "field 'side'"),
        (new(tif="DAY"), "field 'tif'"),
        (new(account="one"), "field 'account'"),
        (new(reduce_only="yes"), "field 'reduce_only'"),
        (new(colour="red"), "unknown field(s): colour"),
        (json.dumps({"cmd": "cancel", "symbol": "BTCUSDT", "account": 1}), "order_id"),
        (json.dumps({"cmd": "amend", "symbol": "BTCUSDT", "account": 1}), "missing field(s)"),
    ],
)
def test_bad_line_names_line_and_field_and_runs_nothing(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = write(tmp_path, "bad.jsonl", [new(side="SELL"), line])
    proc = run_cli("titan", str(path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}:2:" in proc.stderr
    assert expected in proc.stderr
    assert "nothing was executed" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.slow_io
def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", ["{", new(), new(qty="-1x"), new(side="X")])
    proc = run_cli("titan", str(path))
    assert proc.returncode == 2
    assert f"{path}:1:" in proc.stderr
    assert f"{path}:3:" in proc.stderr
    assert f"{path}:4:" in proc.stderr
    assert f"{path}:2:" not in proc.stderr
    assert "3 bad line(s)" in proc.stderr


@pytest.mark.slow_io
def test_engine_rejections_are_events_not_errors(tmp_path: Path) -> None:
    # valid syntax, but breaks a trading rule: notional under 5 USDT
    path = write(tmp_path, "cmds.jsonl", [new(qty="0.001", price="100.0")])
    proc = run_cli("titan", str(path))
    assert proc.returncode == 0, proc.stderr
    event = json.loads(proc.stdout.splitlines()[0])
    assert event["event"] == "Rejected"
    assert event["reason"] == "NOTIONAL_BELOW_MIN"


@pytest.mark.slow_io
def test_missing_file_is_a_clear_error() -> None:
    proc = run_cli("titan", "/nonexistent/commands.jsonl")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "/nonexistent/commands.jsonl: cannot read" in proc.stderr


@pytest.mark.slow_io
def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    proc = run_cli("titan", str(path))
    assert proc.returncode == 2
    assert "not UTF-8" in proc.stderr


@pytest.mark.slow_io
def test_stdin_command_file() -> None:
    proc = run_cli("titan", "-", stdin=new(side="SELL") + "\n")
    assert proc.returncode == 0
    assert json.loads(proc.stdout.splitlines()[0])["event"] == "Accepted"


@pytest.mark.slow_io
@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[symbols.X]\nlot_size = '1'\n", "symbols.X: missing tick_size"),
        ("[symbols.X]\ntick_size = '0'\nlot_size = '1'\n", "must be positive"),
        ("[symbols.X]\ntick_size = 'abc'\nlot_size = '1'\n", "X"),
        ("[symbols.X]\ntick_size = '0.1'\nlot_size = '1'\nfoo = 1\n", "unknown field(s) foo"),
        ("[symbols.X]\ntick_size = '0.1'\nlot_size = '1'\nprice_band_pct = '150'\n", "band"),
        ("[symbols]\n", "at least one symbol"),
        ("[other]\n", "unknown section(s) other"),
        ("symbols = [", "invalid TOML"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, toml: str, expected: str) -> None:
    cfg = tmp_path / "symbols.toml"
    cfg.write_text(toml, encoding="utf-8")
    cmds = write(tmp_path, "c.jsonl", [new()])
    proc = run_cli("titan", str(cmds), "--config", str(cfg))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr
    assert str(cfg) in proc.stderr


def test_config_file_defines_symbols(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "symbols.toml"
    cfg.write_text(
        "[symbols.AAPL]\ntick_size = '0.01'\nlot_size = '1'\nmin_notional = '1'\n",
        encoding="utf-8",
    )
    cmds = write(
        tmp_path,
        "c.jsonl",
        [new(symbol="AAPL", price="91.14", qty="10"), new(symbol="AAPL", price="0.05", qty="1")],
    )
    assert main(["titan", str(cmds), "--config", str(cfg)]) == 0
    events = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert events[0]["event"] == "Accepted" and events[0]["price"] == "91.14"
    assert events[1]["reason"] == "NOTIONAL_BELOW_MIN"


@pytest.mark.slow_io
@pytest.mark.parametrize(
    "args",
    [
        ["titan"],
        ["lobster"],
        ["simulate", "--commands", "0"],
        ["simulate", "--seed", "x"],
        ["bogus"],
    ],
)
def test_bad_flags_give_usage_not_traceback(args: list[str]) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "usage:" in proc.stderr
