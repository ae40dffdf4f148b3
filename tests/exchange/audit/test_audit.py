"""``exchange replay | hash | inspect`` on real venue journals (RocksDB).

A seeded venue stream (trades, liquidations through the book, the fund and ADL, funding,
refusals) is journaled as the platform does it (execute, then record; ``ts`` in epoch
milliseconds, here late November 2026), with checkpoints and snapshots. Everything the
commands print is compared with what a fresh :class:`Venue` fed the same commands gives,
or with counts taken from the command and event lists; damaged and lying journals must
fail the verification at their seq; bad directories and flags give one line and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from helpers.paths import ROOT
from helpers.streams import INTERVAL, command_stream
from helpers.venue import make_contracts
from rocksdict import Options, Rdict

from exchange.audit.records import iso_time
from exchange.cli.args import parse_time
from exchange.cli.main import main
from exchange.cli.progress import Progress
from exchange.runtime.machines import VenueFactory, VenueMachine, titan_genesis, venue_genesis
from exchange.runtime.recorder import Recorder, journal_commands
from oracle import Journal, Record
from oracle.backend import FAMILIES, RECORDS
from oracle.chain import seq_key
from oracle.replay import audit, rebuild
from sentinel.ledger import FUND
from sentinel.units import money_decimal
from titan import Engine, NewOrder, Side
from titan.symbols import SymbolSpec
from venue.venue import Venue
from venue.wire import command_to_wire, events_to_wire

N = 3_000
# command_stream starts just after a funding time in year 2164; moving it back by whole
# funding intervals puts it at 2026-11-21T00:00:00Z + a few ms with the same behaviour.
MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC)
SHIFT = (213_000 - (MIDNIGHT - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(hours=8)) * INTERVAL
KIND = {
    "NewOrder": "orders",
    "Cancel": "cancels",
    "CancelAll": "cancels",
    "Amend": "amends",
    "MarkPrice": "mark_prices",
    "Deposit": "deposits",
    "Withdraw": "withdrawals",
    "SetLeverage": "leverage",
    "SetMarginType": "margin_type",
}


class Run(NamedTuple):
    path: Path
    commands: list[Any]
    events: list[list[Any]]  # per command, in order


# a seed whose stream liquidates often and leaves the fund holding positions
SEED = 3


def stream(n: int) -> list[Any]:
    return [c._replace(ts=c.ts - SHIFT) for c in command_stream(SEED, n)]


def record(path: Path, commands: list[Any], **tuning: int) -> list[list[Any]]:
    """Journal ``commands`` as the platform does; returns each command's events."""
    contracts = make_contracts()
    venue = Venue(contracts)
    journal = Journal.open(path, create=True, genesis=venue_genesis(contracts))
    recorder = Recorder(journal, VenueMachine(venue), **tuning)
    out = []
    for cmd in commands:
        events = venue.apply(cmd)
        recorder.add(cmd.seq, cmd.ts, command_to_wire(cmd), events_to_wire(events))
        out.append(events)
    recorder.close()
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    path = tmp_path_factory.mktemp("audit") / "journal"
    commands = stream(N)
    events = record(path, commands, batch_size=256, checkpoint_every=100, snapshot_every=500)
    return Run(path, commands, events)


def fresh(commands: list[Any]) -> Venue:
    venue = Venue(make_contracts())
    for cmd in commands:
        venue.apply(cmd)
    return venue


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, err = cli(capsys, *argv, "--json")
    assert "Traceback" not in err
    return code, json.loads(out)


def json_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, err = cli(capsys, "inspect", *argv, "--json")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


# -- what a fresh venue says ------------------------------------------------------------


def expected_state(venue: Venue) -> dict[str, Any]:
    s = venue.ledger
    positions = {}
    for symbol, c in s.contracts.items():
        for account, p in s.holders[symbol].items():
            positions[(account, symbol)] = {
                "size": c.spec.qty_decimal(p.size),
                "entry": Decimal(p.cost) / (p.size * c.scale) / 10**c.spec.price_decimals,
                "upnl": money_decimal(p.size * s.marks[symbol] * c.scale - p.cost),
                "type": "isolated" if p.isolated else "cross",
            }
    return {
        "state_hash": venue.state_hash(),
        "positions": positions,
        "balances": {
            (a, asset): money_decimal(w.balance)
            for (a, asset), w in s.wallets.items()
            if a != FUND and (w.balance or w.positions)
        },
        "fund": {asset: money_decimal(s.wallets[(FUND, asset)].balance) for asset in s.assets},
        "open_orders": len(s.orders),
        "marks": {sym: s.contracts[sym].spec.price_decimal(m) for sym, m in s.marks.items()},
    }


def shown_state(data: dict[str, Any]) -> dict[str, Any]:
    positions = {}
    for p in data["positions"]:
        positions[(p["account"], p["symbol"])] = {
            "size": Decimal(p["size"]),
            "entry": Decimal(p["entry_price"]),
            "upnl": Decimal(p["unrealized_pnl"]),
            "type": p["margin_type"],
        }
    return {
        "state_hash": data["state_hash"],
        "positions": positions,
        "balances": {(b["account"], b["asset"]): Decimal(b["balance"]) for b in data["balances"]},
        "fund": {a: Decimal(v) for a, v in data["insurance_fund"].items()},
        "open_orders": data["open_orders"],
        "marks": {sym: Decimal(m["price"]) for sym, m in data["marks"].items()},
    }


def assert_same_state(data: dict[str, Any], venue: Venue) -> None:
    want, got = expected_state(venue), shown_state(data)
    for (key, pos), (key2, shown) in zip(
        sorted(want["positions"].items()), sorted(got["positions"].items()), strict=True
    ):
        assert key == key2
        assert abs(shown.pop("entry") - pos.pop("entry")) <= Decimal("0.000000005"), key
        assert shown == pos, key
    want.pop("positions")
    got.pop("positions")
    assert got == want


def kinds_of(commands: list[Any]) -> dict[str, int]:
    counts = {kind: 0 for kind in [*KIND.values(), "other"]}
    for cmd in commands:
        counts[KIND[type(cmd).__name__]] += 1
    return counts


def liquidations_in(events: list[list[Any]]) -> int:
    return sum(type(e).__name__ == "LiquidationStarted" for evs in events for e in evs)


# -- replay -----------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [0, 1, 777, 1500, 2345, None])
def test_replay_at_a_seq_equals_a_fresh_venue(
    run: Run, capsys: pytest.CaptureFixture[str], seq: int | None
) -> None:
    args = ["replay", str(run.path)] + ([] if seq is None else ["--to-seq", str(seq)])
    code, data = cli_json(capsys, *args)
    upto = N if seq is None else seq
    assert code == 0
    assert (data["records"], data["last_seq"]) == (N, upto)
    assert data["verified"] is False and data["first_divergence"] is None
    assert data["inputs_by_kind"] == kinds_of(run.commands[:upto])
    assert data["liquidations"] == liquidations_in(run.events[:upto])
    assert_same_state(data, fresh(run.commands[:upto]))
    if upto:
        assert data["ts"] == run.commands[upto - 1].ts
        assert data["time"] == iso_time(run.commands[upto - 1].ts)
    # the snapshot was used where there is one (snapshots every 500)
    assert data["snapshot_seq"] == upto // 500 * 500


def test_the_stream_liquidates_and_the_fund_holds_positions(run: Run) -> None:
    """The journal exercises what replay must show (else the comparisons prove little)."""
    assert liquidations_in(run.events) > 20
    venue = fresh(run.commands)
    assert any(FUND in h for h in venue.ledger.holders.values())
    assert any(p.isolated for h in venue.ledger.holders.values() for p in h.values())
    assert venue.ledger.fund_balance("USDT") != 0


def test_replay_at_a_time(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    ts = [c.ts for c in run.commands]
    k = 1_234
    assert ts[k - 1] < ts[k] - 1  # a gap after record k
    at_k = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts[k - 1])
    cases = {
        at_k.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z": k,  # exactly record k's ts
        at_k.astimezone(timezone(timedelta(hours=2))).isoformat(): k,  # with an offset
        (at_k + timedelta(microseconds=999)).replace(tzinfo=None).isoformat(): k,  # naive: UTC
        (at_k - timedelta(milliseconds=1)).isoformat(): k - 1,
        "2026-11-21": 0,  # midnight, before the first record
        "2030-01-01T00:00:00Z": N,  # after the last
    }
    for text, seq in cases.items():
        code, data = cli_json(capsys, "replay", str(run.path), "--to-time", text)
        assert code == 0
        assert data["last_seq"] == seq, text
        assert data["state_hash"] == fresh(run.commands[:seq]).state_hash(), text
        if text == "2026-11-21":
            assert data["time"] is None and data["positions"] == [] and data["balances"] == []
            assert set(data["inputs_by_kind"].values()) == {0}


def test_parse_and_format_times() -> None:
    assert parse_time("2026-11-21T10:00:00.123Z") == 1_795_255_200_123
    assert parse_time("2026-11-21T12:00:00.123+02:00") == 1_795_255_200_123
    assert parse_time("2026-11-21T10:00:00.1239") == 1_795_255_200_123  # floored to the ms
    assert parse_time("2026-11-21") == 1_795_219_200_000
    assert iso_time(1_795_255_200_123) == "2026-11-21T10:00:00.123Z"
    assert iso_time(10**18) is None


def test_replay_text_shows_the_state(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "replay", str(run.path), "--to-seq", "2345")
    assert code == 0 and err == ""
    venue = fresh(run.commands[:2345])
    assert f"state after seq 2345 of {N}" in out
    assert f"state hash {venue.state_hash()}" in out
    assert f"{liquidations_in(run.events[:2345])} liquidations" in out
    fund = money_decimal(venue.ledger.fund_balance("USDT"))
    assert f"insurance fund: {fund:f} USDT" in out
    for (account, _), w in venue.ledger.wallets.items():
        if account != FUND and w.balance:
            assert f"{money_decimal(w.balance):f}" in out


def test_verify_passes_on_a_good_journal(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = cli_json(capsys, "replay", str(run.path), "--verify")
    assert code == 0
    assert data["verified"] is True and data["first_divergence"] is None
    v = data["verification"]
    assert v["integrity"]["ok"] and v["integrity"]["records"] == N
    assert v["audit"]["records"] == N and v["audit"]["checkpoints"] == N // 100
    assert v["audit"]["state_hash"] == data["state_hash"] == fresh(run.commands).state_hash()
    code, data = cli_json(capsys, "replay", str(run.path), "--verify", "--to-seq", "1234")
    assert code == 0 and data["verified"] is True
    assert data["verification"]["audited_to"] == 1234
    assert data["verification"]["audit"]["records"] == 1234
    code, out, _ = cli(capsys, "replay", str(run.path), "--verify")
    assert code == 0 and "verified: OK" in out


def _rewrite_record(path: Path, seq: int, find: bytes) -> None:
    """Change one byte of record ``seq``'s stored body (inside ``find``) behind the
    journal's back: the chain still holds the old hash."""
    opts = {name: Options(raw_mode=True) for name in FAMILIES}
    db = Rdict(str(path), Options(raw_mode=True), column_families=opts)
    records = db.get_column_family(RECORDS)
    value = bytearray(records[seq_key(seq)])
    at = bytes(value).index(find)
    value[at + len(find) - 1] ^= 0x01
    records[seq_key(seq)] = bytes(value)
    records.close()
    db.close()
    del records, db


@pytest.fixture(scope="module")
def damaged(run: Run, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of the journal with one byte changed in record 1784's input or event."""
    assert type(run.commands[1783]).__name__ == "NewOrder"
    out = {}
    for part, find in (("input", b"NewOrder"), ("event", b"Accepted")):
        path = tmp_path_factory.mktemp("damaged") / part
        shutil.copytree(run.path, path)
        _rewrite_record(path, 1784, find)
        out[part] = path
    return out


@pytest.mark.parametrize("part", ["input", "event"])
def test_verify_fails_at_a_changed_byte(
    damaged: dict[str, Path], capsys: pytest.CaptureFixture[str], part: str
) -> None:
    code, data = cli_json(capsys, "replay", str(damaged[part]), "--verify")
    assert code == 1
    assert data["verified"] is False and data["first_divergence"] == 1784
    assert data["divergence"]["what"] == "integrity"
    assert "hash chain" in data["divergence"]["detail"]
    assert data["verification"]["audited_to"] == 1783  # what precedes the damage re-executed
    assert data["verification"]["audit"]["ok"] is True
    code, out, _ = cli(capsys, "replay", str(damaged[part]), "--verify")
    assert code == 1 and "verification FAILED: first divergence at seq 1784" in out
    # before the damage the journal still replays; across it, one line and exit 1
    code, data = cli_json(capsys, "replay", str(damaged[part]), "--to-seq", "1783")
    assert code == 0 and data["last_seq"] == 1783
    code, out, err = cli(capsys, "replay", str(damaged[part]))
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert "journal corrupt at seq 1784" in err and "Traceback" not in err


def _lying_journal(path: Path, lie: str) -> int:
    """A journal whose chain is intact but one record's input or event is not what ran."""
    contracts = make_contracts()
    venue = Venue(contracts)
    journal = Journal.open(path, create=True, genesis=venue_genesis(contracts))
    recorder = Recorder(journal, VenueMachine(venue), batch_size=64, checkpoint_every=50)
    lied = 0
    for cmd in stream(600):
        events = venue.apply(cmd)
        wire: Any = command_to_wire(cmd)
        ev: list[Any] = events_to_wire(events)
        names = [type(e).__name__ for e in events]
        if not lied and cmd.seq > 300:
            if lie == "input" and type(cmd).__name__ == "Deposit" and "BalanceChanged" in names:
                wire = (wire[0], cmd._replace(amount=cmd.amount + 1))
                lied = cmd.seq
            if lie == "event" and "Trade" in names:
                i = names.index("Trade")
                ev[i] = ("Trade", events[i]._replace(qty=events[i].qty + 1))
                lied = cmd.seq
        recorder.add(cmd.seq, cmd.ts, wire, ev)
    recorder.close()
    assert lied
    return lied


@pytest.mark.parametrize("lie", ["input", "event"])
def test_verify_names_a_lying_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lie: str
) -> None:
    lied = _lying_journal(tmp_path / "j", lie)
    code, data = cli_json(capsys, "replay", str(tmp_path / "j"))
    assert code == 0 and data["verified"] is False  # nothing was verified
    code, data = cli_json(capsys, "replay", str(tmp_path / "j"), "--verify")
    assert code == 1
    assert data["verification"]["integrity"]["ok"] is True  # the chain cannot see a lie
    assert data["verified"] is False and data["first_divergence"] == lied
    assert data["divergence"]["what"] == "events"
    assert str(lied) in data["divergence"]["detail"]
    # verifying only up to the record before the lie passes
    code, data = cli_json(
        capsys, "replay", str(tmp_path / "j"), "--verify", "--to-seq", str(lied - 1)
    )
    assert code == 0 and data["verified"] is True


# -- hash -------------------------------------------------------------------------------


def test_hash_at_a_seq_matches_a_fresh_replay(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    for seq, checkpoint in ((1234, None), (1200, True), (N, True), (0, None)):
        code, data = cli_json(capsys, "hash", str(run.path), "--at", str(seq))
        assert code == 0
        assert data["seq"] == seq
        assert data["state_hash"] == fresh(run.commands[:seq]).state_hash()
        assert data["checkpoint_matches"] is checkpoint
    code, data = cli_json(capsys, "hash", str(run.path))
    assert code == 0 and data["seq"] == N and data["checkpoint_matches"] is True
    code, out, _ = cli(capsys, "hash", str(run.path), "--at", "1200")
    assert code == 0
    assert out.splitlines() == [
        f"seq 1200: state hash {fresh(run.commands[:1200]).state_hash()}",
        "  matches the checkpoint in record 1200",
    ]


def test_hash_reports_a_wrong_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts = make_contracts()
    venue = Venue(contracts)
    machine = VenueMachine(venue)
    records = []
    for cmd in stream(150):
        events = events_to_wire(venue.apply(cmd))
        checkpoint = machine.state_hash() if cmd.seq % 50 == 0 else None
        if cmd.seq == 100:
            checkpoint = "0" * 64
        records.append(Record(cmd.seq, cmd.ts, command_to_wire(cmd), events, checkpoint))
    with Journal.open(tmp_path / "j", create=True, genesis=venue_genesis(contracts)) as j:
        j.append(records)
    code, data = cli_json(capsys, "hash", str(tmp_path / "j"), "--at", "100")
    assert code == 1
    assert data["checkpoint"] == "0" * 64 and data["checkpoint_matches"] is False
    code, out, _ = cli(capsys, "hash", str(tmp_path / "j"), "--at", "100")
    assert code == 1 and "MISMATCH" in out
    assert cli(capsys, "hash", str(tmp_path / "j"), "--at", "50")[0] == 0
    code, data = cli_json(capsys, "replay", str(tmp_path / "j"), "--verify")
    assert code == 1 and data["first_divergence"] == 100
    assert data["divergence"]["what"] == "checkpoint"


# -- inspect ----------------------------------------------------------------------------


def _accounts(item: Any) -> set[int]:
    names = ("account", "maker_account", "taker_account", "counterparty")
    return {getattr(item, n) for n in names if type(getattr(item, n, None)) is int}


@pytest.mark.parametrize(
    ("argv", "keep"),
    [
        (["--kind", "liquidations"], lambda c, ev: "LiquidationStarted" in ev),
        (["--kind", "trades"], lambda c, ev: "Trade" in ev),
        (["--kind", "cancels"], lambda c, ev: c in ("Cancel", "CancelAll")),
        (
            ["--kind", "deposits", "--kind", "withdrawals"],
            lambda c, ev: c in ("Deposit", "Withdraw"),
        ),
        (["--kind", "margin_type"], lambda c, ev: c == "SetMarginType"),
        (["--kind", "rejections"], lambda c, ev: "Refused" in ev or "Rejected" in ev),
        (["--kind", "mark_prices", "--kind", "funding"], lambda c, ev: c == "MarkPrice"),
    ],
)
def test_inspect_kind_filters(
    run: Run, capsys: pytest.CaptureFixture[str], argv: list[str], keep: Any
) -> None:
    want = [
        cmd.seq
        for cmd, events in zip(run.commands, run.events, strict=True)
        if keep(type(cmd).__name__, {type(e).__name__ for e in events})
    ]
    got = [r["seq"] for r in json_lines(capsys, str(run.path), *argv)]
    assert want and got == want


@pytest.mark.parametrize("account", [5, FUND])
def test_inspect_account_filter(run: Run, capsys: pytest.CaptureFixture[str], account: int) -> None:
    want = [
        cmd.seq
        for cmd, events in zip(run.commands, run.events, strict=True)
        if account in _accounts(cmd) or any(account in _accounts(e) for e in events)
    ]
    got = json_lines(capsys, str(run.path), "--account", str(account))
    assert want and [r["seq"] for r in got] == want


def test_inspect_from_limit_and_combined_filters(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    got = json_lines(capsys, str(run.path), "--from", "2500", "--limit", "7")
    assert [r["seq"] for r in got] == list(range(2500, 2507))
    want = [
        cmd.seq
        for cmd, events in zip(run.commands[999:], run.events[999:], strict=True)
        if type(cmd).__name__ == "NewOrder" and any(3 in _accounts(x) for x in (cmd, *events))
    ][:5]
    got = json_lines(
        capsys,
        str(run.path),
        "--from",
        "1000",
        "--kind",
        "orders",
        "--account",
        "3",
        "--limit",
        "5",
    )
    assert len(want) == 5 and [r["seq"] for r in got] == want
    got = json_lines(capsys, str(run.path), "--from", str(N - 2), "--limit", "10")
    assert [r["seq"] for r in got] == [N - 2, N - 1, N]
    code, out, _ = cli(capsys, "inspect", str(run.path), "--from", "10", "--limit", "4")
    lines = out.splitlines()
    assert code == 0 and [line.split()[:2] for line in lines] == [
        ["seq", str(s)] for s in range(10, 14)
    ]


def test_inspect_json_record_in_decimals(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    deposit = next(c for c in run.commands if type(c).__name__ == "Deposit" and c.seq > 100)
    [rec] = json_lines(capsys, str(run.path), "--from", str(deposit.seq), "--limit", "1")
    assert rec["seq"] == deposit.seq and rec["ts"] == deposit.ts
    assert rec["time"] == iso_time(deposit.ts) and rec["time"].startswith("2026-11-2")
    assert rec["input"] == {
        "command": "Deposit",
        "account": deposit.account,
        "asset": "USDT",
        "amount": f"{money_decimal(deposit.amount):f}",
    }
    events = run.events[deposit.seq - 1]
    assert [e["event"] for e in rec["events"]] == [type(e).__name__ for e in events]
    checkpointed = json_lines(capsys, str(run.path), "--from", "1200", "--limit", "1")[0]
    assert checkpointed["checkpoint"] == fresh(run.commands[:1200]).state_hash()


def test_inspect_text_reads_like_the_audit_trail(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    spec: SymbolSpec = make_contracts()[0].spec
    cmd = next(
        c
        for c in run.commands
        if type(c).__name__ == "NewOrder"
        and c.symbol == spec.symbol
        and c.type == "LIMIT"
        and c.tif == "GTC"
        and not c.reduce_only
        and [type(e).__name__ for e in run.events[c.seq - 1]] == ["Accepted"]
    )
    code, out, _ = cli(capsys, "inspect", str(run.path), "--from", str(cmd.seq), "--limit", "1")
    assert code == 0
    assert out == (
        f"seq {cmd.seq} {iso_time(cmd.ts)}  NewOrder {spec.symbol} acct {cmd.account} "
        f"#{cmd.order_id} {cmd.side} LIMIT {spec.qty_decimal(cmd.qty)} @ "
        f"{spec.price_decimal(cmd.price)} GTC -> Accepted #{cmd.order_id}\n"
    )
    code, out, _ = cli(capsys, "inspect", str(run.path), "--kind", "liquidations", "--limit", "1")
    assert code == 0 and "LIQUIDATION acct" in out and "LiquidationFinished" in out


def test_titan_and_empty_journals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = make_contracts()[0].spec
    with Journal.open(tmp_path / "t", create=True, genesis=titan_genesis([spec])) as j:
        journal_commands(
            j,
            Engine([spec]),
            [
                NewOrder(1, 10, spec.symbol, 1, 1, Side.SELL, 5, 500_000),
                NewOrder(2, 20, spec.symbol, 2, 2, Side.BUY, 5, 500_000),
            ],
        )
    got = json_lines(capsys, str(tmp_path / "t"), "--kind", "trades")
    assert [r["seq"] for r in got] == [2] and got[0]["time"] is None
    # account 1's resting sell traded in record 2, whose input is account 2's order
    assert [r["seq"] for r in json_lines(capsys, str(tmp_path / "t"), "--account", "1")] == [1, 2]
    code, data = cli_json(capsys, "replay", str(tmp_path / "t"), "--verify")
    assert code == 0 and data["verified"] and data["inputs_by_kind"]["orders"] == 2
    code, _, err = cli(capsys, "replay", str(tmp_path / "t"), "--to-time", "2026-11-21")
    assert code == 2 and "titan machine" in err

    contracts = make_contracts()
    Journal.open(tmp_path / "e", create=True, genesis=venue_genesis(contracts)).close()
    code, data = cli_json(capsys, "replay", str(tmp_path / "e"), "--verify")
    assert code == 0 and data["last_seq"] == 0 and data["verified"] is True
    assert data["state_hash"] == Venue(contracts).state_hash()
    code, data = cli_json(capsys, "hash", str(tmp_path / "e"))
    assert code == 0 and data["state_hash"] == Venue(contracts).state_hash()
    assert cli(capsys, "inspect", str(tmp_path / "e"))[:2] == (0, "")


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["replay", "{missing}"], 2, "no journal at"),
        (["hash", "{empty}"], 2, "no journal at"),
        (["inspect", "{file}"], 2, "no journal at"),
        (["replay", "{foreign}"], 2, "is a RocksDB database but not a journal"),
        (["inspect", "{damaged}"], 1, "journal corrupt at seq 1784"),
        (["hash", "{damaged}", "--at", "1800"], 1, "journal corrupt at seq 1784"),
        (["replay", "{journal}", "--to-seq", "-1"], 2, "must not be negative"),
        (
            ["replay", "{journal}", "--to-seq", "3001"],
            2,
            "--to-seq 3001: the journal holds records 1..3000",
        ),
        (["replay", "{journal}", "--to-seq", "x"], 2, "'x' is not an integer"),
        (["replay", "{journal}", "--to-time", "yesterday"], 2, "is not an ISO 8601 time"),
        (["replay", "{journal}", "--to-time", "2026-13-01"], 2, "is not an ISO 8601 time"),
        (
            ["replay", "{journal}", "--to-seq", "1", "--to-time", "2026-11-21"],
            2,
            "not allowed with",
        ),
        (["hash", "{journal}", "--at", "3001"], 2, "--at 3001: the journal holds records 1..3000"),
        (["hash", "{journal}", "--at", "-5"], 2, "must not be negative"),
        (["inspect", "{journal}", "--limit", "0"], 2, "must be positive"),
        (["inspect", "{journal}", "--from", "0"], 2, "must be positive"),
        (["inspect", "{journal}", "--from", "3001"], 2, "--from 3001: the journal holds records"),
        (["inspect", "{journal}", "--kind", "everything"], 2, "invalid choice: 'everything'"),
        (["inspect", "{journal}", "--account", "one"], 2, "invalid int value"),
        (["replay"], 2, "required: dir"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    run: Run,
    damaged: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a journal\n")
    foreign = Rdict(str(tmp_path / "foreign"), Options(raw_mode=True))
    foreign[b"k"] = b"v"
    foreign.close()
    subs = {
        "missing": str(tmp_path / "nope"),
        "empty": str(tmp_path / "empty"),
        "file": str(tmp_path / "file"),
        "foreign": str(tmp_path / "foreign"),
        "damaged": str(damaged["input"]),
        "journal": str(run.path),
    }
    got, out, err = cli(capsys, *(a.format(**subs) for a in argv))
    assert got == code, err
    assert message in err and "Traceback" not in err + out
    problems = [line for line in err.splitlines() if "error" in line or "exchange:" in line]
    assert len(problems) == 1, err  # argparse adds a usage line; nothing else is printed
    assert message in problems[0]


@pytest.mark.slow_io
def test_through_the_real_command_line(run: Run, damaged: dict[str, Path]) -> None:
    def exchange(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "exchange", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = exchange("replay", str(run.path), "--verify", "--json", "--to-time", "2026-11-22")
    assert ok.returncode == 0, ok.stderr
    assert "Traceback" not in ok.stderr  # and no progress line unless the run was slow:
    assert all(line.startswith("\r") for line in ok.stderr.splitlines())
    data = json.loads(ok.stdout)
    assert data["verified"] is True
    seq = data["last_seq"]
    assert run.commands[seq - 1].ts < parse_time("2026-11-22") <= run.commands[seq].ts
    assert data["state_hash"] == fresh(run.commands[:seq]).state_hash()
    bad = exchange("replay", str(damaged["event"]), "--verify", "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["first_divergence"] == 1784
    trail = exchange("inspect", str(run.path), "--kind", "liquidations")
    assert trail.returncode == 0
    assert len(trail.stdout.splitlines()) == len(
        {
            i
            for i, evs in enumerate(run.events)
            if any(type(e).__name__ == "LiquidationStarted" for e in evs)
        }
    )
    missing = exchange("hash", str(run.path.parent / "nope"))
    assert missing.returncode == 2
    assert missing.stderr == f"exchange: error: no journal at {run.path.parent / 'nope'}\n"


# -- progress ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_on_a_terminal_and_for_long_runs() -> None:
    clock, stream = Clock(), io.StringIO()
    p = Progress(stream, tty=True, clock=clock)
    report = p.phase("re-executing", 10_000)
    clock.now = 0.1
    report(1024)
    assert stream.getvalue() == ""  # a quick run never flickers
    clock.now = 0.5
    report(2048)
    clock.now = 0.55
    report(3072)  # throttled: at most every 0.1 s
    clock.now = 0.7
    report(4096)
    assert stream.getvalue().split("\r")[1:] == [
        "re-executing: 2,048/10,000 records (20%)",
        "re-executing: 4,096/10,000 records (41%)",
    ]
    p.close()
    assert stream.getvalue().endswith("\r" + " " * 40 + "\r")  # cleared

    clock, stream = Clock(), io.StringIO()
    p = Progress(stream, tty=False, clock=clock)
    report = p.phase("counting", 5_000)
    clock.now = 1.9
    report(1024)
    assert stream.getvalue() == ""
    clock.now = 2.5
    report(2048)
    p.close()
    assert stream.getvalue() == "\rcounting: 2,048/5,000 records (41%)\n"


def test_audit_and_rebuild_report_progress(run: Run) -> None:
    seen: list[int] = []
    with Journal.open(run.path, read_only=True) as journal:
        report = audit(
            journal, VenueFactory(), stop=2_100, progress=seen.append, progress_every=700
        )
        assert report.ok and seen == [700, 1400, 2100]
        seen.clear()
        built = rebuild(
            journal, VenueFactory(), 2_100, use_snapshots=False, progress=seen.append,
            progress_every=1_000,
        )  # fmt: skip
        assert built.replayed == 2_100 and seen == [1000, 2000]
