"""Golden event streams: Titan's exact output for small, hand-checked scenarios.

Each ``tests/titan/golden/<name>.jsonl`` file is self-contained: a header line (scenario name,
what it shows, the symbol specs), then every command followed by the events it must
produce, one JSON object per line. The expected events were written by reasoning from
the rules in ``titan/engine.py`` and Binance USD-M semantics, not copied from the engine.

This module proves that:

- the engine reproduces every golden stream exactly, command by command;
- every rejection leaves ``state_hash()`` unchanged;
- every :class:`~titan.enums.RejectReason` (and every expiry and cancel reason, order
  type, time in force and STP mode) is exercised by some scenario, so a new member
  without a scenario fails the suite.

To regenerate the event lines from the engine deliberately (after a reviewed change of
behaviour), run ``UPDATE_GOLDEN=1 pytest tests/titan/test_golden.py`` and review the diff:
each scenario whose events changed is rewritten and reported as skipped ("updated ..."),
the others are compared as usual. A new scenario can be added as a header plus command
lines only; regeneration fills in the events, which must then be checked by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from titan import (
    Amend,
    Cancel,
    CancelAll,
    CancelReason,
    Command,
    Engine,
    ExpireReason,
    NewOrder,
    OrderType,
    RejectReason,
    SetMarkPrice,
    StpMode,
    SymbolSpec,
    TimeInForce,
    WorkingType,
    event_from_dict,
    event_to_dict,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (NewOrder, Cancel, CancelAll, Amend, SetMarkPrice)
}

Step = tuple[dict[str, Any], list[dict[str, Any]]]


def command_to_dict(cmd: Command) -> dict[str, Any]:
    """``{"command": <class>, field: value, ...}``, leaving out fields at their default."""
    out: dict[str, Any] = {"command": type(cmd).__name__}
    defaults = type(cmd)._field_defaults
    for name, value in zip(cmd._fields, cmd, strict=True):
        if name in defaults:
            default = defaults[name]
            same_type = type(value) is type(default) or (
                isinstance(default, str) and isinstance(value, str)
            )
            if same_type and value == default:
                continue
        out[name] = str(value) if isinstance(value, str) else value
    return out


def command_from_dict(data: dict[str, Any]) -> Command:
    """Inverse of :func:`command_to_dict` (enum fields stay plain strings)."""
    cls = COMMAND_TYPES.get(data.get("command", ""))
    if cls is None:
        raise ValueError(f"unknown command {data.get('command')!r}")
    fields = {k: v for k, v in data.items() if k != "command"}
    unknown = set(fields) - set(cls._fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    cmd: Command = cls(**fields)
    return cmd


class Golden:
    """A parsed golden file: header and (command, expected events) steps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not lines or "scenario" not in lines[0]:
            raise ValueError(f"{path.name}: first line must be the scenario header")
        self.header: dict[str, Any] = lines[0]
        if self.header["scenario"] != path.stem:
            raise ValueError(f"{path.name}: header names scenario {self.header['scenario']!r}")
        self.steps: list[Step] = []
        for n, line in enumerate(lines[1:], start=2):
            if "command" in line:
                self.steps.append((line, []))
            elif "event" in line and self.steps:
                event_from_dict(line)  # the line must at least be a well-formed event
                self.steps[-1][1].append(line)
            else:
                raise ValueError(f"{path.name}:{n}: neither a command nor an event: {line}")

    def engine(self) -> Engine:
        return Engine([SymbolSpec(**spec) for spec in self.header["specs"]])

    def commands(self) -> list[Command]:
        return [command_from_dict(cmd) for cmd, _ in self.steps]

    def expected_events(self) -> Iterator[dict[str, Any]]:
        for _, events in self.steps:
            yield from events

    def write(self, actual: list[list[dict[str, Any]]]) -> None:
        out = [self.header]
        for (cmd, _), events in zip(self.steps, actual, strict=True):
            out.append(cmd)
            out.extend(events)
        self.path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in out))


GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.jsonl"))


def load_all() -> list[Golden]:
    return [Golden(path) for path in GOLDEN_FILES]


def test_golden_files_exist() -> None:
    assert len(GOLDEN_FILES) >= 20, f"golden scenarios missing from {GOLDEN_DIR}"


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_stream(path: Path) -> None:
    """Replay the scenario; each command must emit exactly its recorded events."""
    golden = Golden(path)
    engine = golden.engine()
    actual: list[list[dict[str, Any]]] = []
    for cmd in golden.commands():
        before = engine.state_hash()
        events = engine.apply(cmd)
        actual.append([event_to_dict(e) for e in events])
        if any(e["event"] == "Rejected" for e in actual[-1]):
            assert len(events) == 1, f"a rejection must be the only event: {actual[-1]}"
            assert engine.state_hash() == before, f"rejected {cmd} changed the state"
        assert engine.check_invariants() == [], f"after {cmd}"
    mismatches = []
    for i, ((line, expected), got) in enumerate(zip(golden.steps, actual, strict=True)):
        if expected != got:
            mismatches.append(
                f"command #{i + 1} {json.dumps(line)}\n"
                + "  expected:\n"
                + "".join(f"    {json.dumps(e)}\n" for e in expected)
                + "  engine:\n"
                + "".join(f"    {json.dumps(e)}\n" for e in got)
            )
    if mismatches and UPDATE:  # write the engine's events, never compare them with themselves
        golden.write(actual)
        pytest.skip(f"updated {path}: {len(mismatches)} command(s) changed, review the diff")
    assert not mismatches, f"{path.name}: engine disagrees with golden stream\n" + "\n".join(
        mismatches
    )


def test_command_codec_round_trip() -> None:
    """The golden command encoding loses nothing, defaults included."""
    cmds: list[Command] = [
        NewOrder(1, 2, "BTC", 3, 4, "BUY", 10),  # type: ignore[arg-type]
        NewOrder(
            1,
            2,
            "BTC",
            3,
            4,
            "SELL",  # type: ignore[arg-type]
            10,
            price=1000,
            type=OrderType.STOP,
            tif=TimeInForce.GTX,
            stop_price=990,
            working_type=WorkingType.MARK_PRICE,
            reduce_only=True,
            client_order_id="x",
            stp=StpMode.EXPIRE_BOTH,
        ),
        NewOrder(1, 2, "BTC", 3, 4, "BUY", 10, reduce_only=0),  # type: ignore[arg-type]
        Cancel(5, 6, "ETH", 7, client_order_id="c"),
        CancelAll(8, 9, "ETH", 1),
        Amend(1, 1, "BTC", 1, 2, 3, 4),
        SetMarkPrice(1, 1, "BTC", 99),
    ]
    for cmd in cmds:
        back = command_from_dict(json.loads(json.dumps(command_to_dict(cmd))))
        assert back == cmd
        kinds = [[str if isinstance(v, str) else type(v) for v in c] for c in (cmd, back)]
        assert kinds[0] == kinds[1], "a field changed type in the round trip"
    assert "reduce_only" in command_to_dict(cmds[2]), "0 is not the default False"


def _covered(field: str, kinds: set[str]) -> set[str]:
    seen: set[str] = set()
    for golden in load_all():
        for event in golden.expected_events():
            if event["event"] in kinds and field in event:
                seen.add(event[field])
    return seen


def _covered_commands(field: str, default: str) -> set[str]:
    seen: set[str] = set()
    for golden in load_all():
        for cmd, events in golden.steps:
            if cmd["command"] == "NewOrder" and events and events[0]["event"] == "Accepted":
                seen.add(cmd.get(field, default))
    return seen


def test_every_reject_reason_has_a_scenario() -> None:
    missing = {r.value for r in RejectReason} - _covered("reason", {"Rejected"})
    assert not missing, f"RejectReason member(s) without a golden scenario: {sorted(missing)}"


# Produced only when a position keeper installs Titan's reduce-only hook (the venue);
# its scenarios are in tests/venue/test_golden.py.
VENUE_ONLY_REASONS = {ExpireReason.REDUCE_ONLY.value}


def test_every_expire_and_cancel_reason_has_a_scenario() -> None:
    missing = {r.value for r in ExpireReason} - _covered("reason", {"Expired"}) - VENUE_ONLY_REASONS
    missing |= {r.value for r in CancelReason} - _covered("reason", {"Cancelled"})
    assert not missing, f"reason(s) without a golden scenario: {sorted(missing)}"


def test_every_order_type_tif_and_stp_mode_is_accepted_somewhere() -> None:
    missing = {t.value for t in OrderType} - _covered_commands("type", "LIMIT")
    missing |= {t.value for t in TimeInForce} - _covered_commands("tif", "GTC")
    missing |= {m.value for m in StpMode} - _covered_commands("stp", "NONE")
    missing |= {w.value for w in WorkingType} - _covered_commands("working_type", "CONTRACT_PRICE")
    assert not missing, f"accepted in no golden scenario: {sorted(missing)}"
    triggered = _covered("event", {"Triggered"})
    assert triggered == {"Triggered"}, "no scenario fires a conditional order"


def test_every_conditional_type_fires_on_both_working_types() -> None:
    """Each of the 4 conditional types is triggered by the last price and by the mark."""
    fired: set[tuple[str, str]] = set()
    for golden in load_all():
        placed: dict[int, tuple[str, str]] = {}
        for cmd, events in golden.steps:
            if cmd["command"] == "NewOrder":
                placed[cmd["order_id"]] = (
                    cmd.get("type", "LIMIT"),
                    cmd.get("working_type", "CONTRACT_PRICE"),
                )
            for event in events:
                if event["event"] == "Triggered":
                    fired.add(placed[event["order_id"]])
    conditional = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"}
    wanted = {(t, w.value) for t in conditional for w in WorkingType}
    assert wanted <= fired, f"never fired: {sorted(wanted - fired)}"


def test_comparison_can_fail(tmp_path: Path) -> None:
    """A golden file with one altered expected event must not match the engine."""
    source = GOLDEN_DIR / "limit_gtc.jsonl"
    text = source.read_text().replace('"maker_remaining": 10', '"maker_remaining": 11', 1)
    assert text != source.read_text()
    broken = tmp_path / "limit_gtc.jsonl"
    broken.write_text(text)
    golden = Golden(broken)
    engine = golden.engine()
    actual = [[event_to_dict(e) for e in engine.apply(c)] for c in golden.commands()]
    assert actual != [events for _, events in golden.steps]
