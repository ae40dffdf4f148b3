"""``--journal`` and ``exchange journal ...``: the operator's and the auditor's commands.

Journals are written by the real commands (titan, run, lobster) and read back by every
verb; bad directories and flags end in one clear line with exit status 2, a damaged or
lying journal in exit status 1 naming the seq, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.paths import LOBSTER, ROOT

from exchange.cli.main import main
from exchange.config.symbols import default_specs
from exchange.runtime.machines import titan_genesis
from oracle import Journal, Record
from titan import Engine, NewOrder, Side
from titan.wire import command_to_wire, events_to_wire


def lines(*objs: dict[str, object]) -> str:
    return "\n".join(json.dumps(o) for o in objs) + "\n"


def order(side: str, price: str, qty: str = "0.010", account: int = 1) -> dict[str, object]:
    return {"cmd": "new", "symbol": "BTCUSDT", "account": account, "side": side,
            "qty": qty, "price": price}  # fmt: skip


@pytest.fixture
def journaled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Six commands (one trade) journaled by ``exchange titan --journal``."""
    cmds = tmp_path / "cmds.jsonl"
    cmds.write_text(
        lines(
            order("SELL", "50000.0", "0.020", 1),
            order("SELL", "50001.0", "0.010", 1),
            order("BUY", "49990.0", "0.010", 2),
            order("BUY", "50000.0", "0.030", 3),
            {"cmd": "cancel", "symbol": "BTCUSDT", "account": 2, "order_id": 3},
            {"cmd": "mark", "symbol": "BTCUSDT", "price": "50000.5"},
        ),
        encoding="utf-8",
    )
    journal = tmp_path / "journal"
    assert main(["titan", str(cmds), "--journal", str(journal), "--batch", "2"]) == 0
    capsys.readouterr()
    return journal


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_titan_journal_info_verify_audit(journaled: Path, capsys) -> None:
    code, info = run_json(capsys, "journal", "info", str(journaled), "--json")
    assert code == 0 and info["last_seq"] == 6 and info["machine"] == "titan"
    assert info["symbols"] == ["BTCUSDT", "ETHUSDT"]
    code, ver = run_json(capsys, "journal", "verify", str(journaled), "--json")
    assert code == 0 and ver["ok"] and ver["records"] == 6
    assert ver["chain_head"] == info["chain_head"]
    code, aud = run_json(capsys, "journal", "audit", str(journaled), "--json")
    assert code == 0 and aud["ok"] and aud["records"] == 6
    assert aud["events"] == 6  # four Accepted, one Trade, one Cancelled; a mark emits none


def test_replay_shows_the_book_at_a_seq(journaled: Path, capsys) -> None:
    code, at3 = run_json(capsys, "journal", "replay", str(journaled), "--seq", "3", "--json")
    assert code == 0 and at3["seq"] == 3 and at3["replayed"] == 3
    book = at3["books"]["BTCUSDT"]
    assert book["asks"] == [["50000.0", "0.020"], ["50001.0", "0.010"]]
    assert book["bids"] == [["49990.0", "0.010"]]
    code, end = run_json(capsys, "journal", "replay", str(journaled), "--json")
    assert end["seq"] == 6 and end["books"]["BTCUSDT"]["bids"] == [["50000.0", "0.010"]]
    assert end["books"]["BTCUSDT"]["asks"] == [["50001.0", "0.010"]]
    assert end["state_hash"] != at3["state_hash"]


def test_replay_at_time_uses_the_journaled_timestamps(journaled: Path, capsys) -> None:
    # the command file stamps ts = line number
    code, at = run_json(capsys, "journal", "replay", str(journaled), "--time", "4", "--json")
    assert code == 0 and at["seq"] == 4
    code, before = run_json(capsys, "journal", "replay", str(journaled), "--time", "0", "--json")
    assert before["seq"] == 0 and before["books"]["BTCUSDT"] == {"bids": [], "asks": []}


def test_show_prints_decimal_records(journaled: Path, capsys) -> None:
    assert main(["journal", "show", str(journaled), "--from", "4", "--to", "5"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in rows] == [4, 5]
    assert rows[0]["input"]["command"] == "NewOrder"
    trades = [e for e in rows[0]["events"] if e["event"] == "Trade"]
    assert [t["price"] for t in trades] == ["50000.0"]
    assert rows[1]["input"]["command"] == "Cancel"


def test_journal_into_a_used_directory_is_refused(journaled: Path, tmp_path: Path, capsys) -> None:
    cmds = tmp_path / "one.jsonl"
    cmds.write_text(lines(order("BUY", "1.0")), encoding="utf-8")
    assert main(["titan", str(cmds), "--journal", str(journaled)]) == 2
    err = capsys.readouterr().err
    assert "already holds 6 records" in err
    with Journal.open(journaled, read_only=True) as j:
        assert j.last_seq == 6 and j.verify().ok


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["journal", "verify", "{missing}"], "no journal at"),
        (["journal", "replay", "{journal}", "--seq", "99"], "holds records 1..6"),
        (["journal", "replay", "{journal}", "--seq", "-1"], "must not be negative"),
        (["journal", "replay", "{journal}", "--seq", "2", "--time", "3"], "not allowed with"),
        (["journal", "show", "{journal}", "--from", "0"], "must be positive"),
        (["titan", "{cmds}", "--journal", "{journal}", "--durability", "fast"], "invalid choice"),
        (["journal"], "required"),
    ],
)
def test_bad_flags_and_directories(
    journaled: Path, tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    subs = {"missing": str(tmp_path / "nope"), "journal": str(journaled), "cmds": "x.jsonl"}
    argv = [a.format(**subs) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_audit_of_a_lying_journal_fails_with_exit_1(tmp_path: Path, capsys) -> None:
    specs = default_specs()
    engine = Engine(specs)
    a = NewOrder(1, 1, "BTCUSDT", 1, 1, Side.BUY, 5, 300_000)
    b = NewOrder(2, 2, "BTCUSDT", 2, 2, Side.SELL, 5, 300_000)
    ra = Record(1, 1, command_to_wire(a), events_to_wire(engine.apply(a)))
    engine.apply(b)
    rb = Record(2, 2, command_to_wire(b), [])  # the writer dropped the trade
    with Journal.open(tmp_path / "j", create=True, genesis=titan_genesis(specs)) as j:
        j.append([ra, rb])
    assert main(["journal", "verify", str(tmp_path / "j")]) == 0  # the chain is intact
    capsys.readouterr()
    assert main(["journal", "audit", str(tmp_path / "j")]) == 1
    out = capsys.readouterr().out
    assert "audit FAILED at seq 2: event count differs" in out


@pytest.mark.slow_io
@pytest.mark.data(LOBSTER / "AAPL_2012-06-21_first672_message.csv")
def test_run_and_lobster_journal_through_the_real_command_line(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "exchange", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    run = cli(
        "simulate", "--commands", "12000", "--journal", str(tmp_path / "run"),
        "--snapshot-every", "5000", "--durability", "async",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "journal: records 1..12000 committed" in run.stdout
    lob = cli(
        "lobster", str(LOBSTER / "AAPL_2012-06-21_first672_message.csv"),
        "--journal", str(tmp_path / "lob"), "--json",
    )  # fmt: skip
    assert lob.returncode == 0, lob.stderr
    state = json.loads(lob.stdout)["state_hash"]
    for name, expected in (("run", None), ("lob", state)):
        proc = cli("journal", "audit", str(tmp_path / name), "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(proc.stdout)
        assert report["ok"]
        if expected is not None:
            assert report["state_hash"] == expected
    snaps = json.loads(cli("journal", "info", str(tmp_path / "run"), "--json").stdout)["snapshots"]
    assert [s["seq"] for s in snaps] == [5000, 10000]
