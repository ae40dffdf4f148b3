"""The venue's ``titan_probe`` hook: called around every call into Titan, the user's
commands and the venue's own, without changing what happens; kept across
:meth:`Venue.attach_titan` and given to :meth:`Venue.restore`."""

from __future__ import annotations

from sentinel.commands import Deposit, MarkPrice
from sentinel.contracts import Contract, contract_from_terms
from sentinel.units import money
from titan.commands import NewOrder, SetMarkPrice
from titan.engine import Engine
from titan.enums import Side
from titan.symbols import SymbolSpec
from venue.types import Command, TitanApply, TitanCommand, TitanEvent
from venue.venue import Venue

BTC = SymbolSpec.from_decimals("BTCUSDT", "0.10", "0.001", "5", "1000", "5")
MID = BTC.price_units("50000")


def stream() -> list[Command]:
    return [
        MarkPrice(1, 1, "BTCUSDT", MID),
        Deposit(2, 2, 1, "USDT", money("100000")),
        Deposit(3, 3, 2, "USDT", money("100000")),
        NewOrder(4, 4, "BTCUSDT", 1, 4, Side.SELL, 100, MID),
        NewOrder(5, 5, "BTCUSDT", 2, 5, Side.BUY, 100, MID),
        MarkPrice(6, 6, "BTCUSDT", MID + 10),
    ]


class Recorder:
    def __init__(self) -> None:
        self.seen: list[TitanCommand] = []

    def __call__(self, apply: TitanApply, cmd: TitanCommand) -> list[TitanEvent]:
        self.seen.append(cmd)
        return apply(cmd)


def contracts() -> list[Contract]:
    return [contract_from_terms(BTC, {}, "BTCUSDT")]


def test_probe_sees_every_titan_command_and_changes_nothing() -> None:
    plain, probed = Venue(contracts()), Venue(contracts(), titan_probe=(rec := Recorder()))
    for cmd in stream():
        assert probed.apply(cmd) == plain.apply(cmd)
    assert probed.state_hash() == plain.state_hash()
    assert [type(c) for c in rec.seen] == [
        SetMarkPrice,
        NewOrder,
        NewOrder,
        SetMarkPrice,
    ]  # Sentinel's own commands do not reach Titan; a mark price does, as SetMarkPrice


def test_probe_survives_attach_and_restore() -> None:
    venue = Venue(contracts())
    for cmd in stream()[:3]:
        venue.apply(cmd)
    rec = Recorder()
    venue.titan_probe = rec
    venue.attach_titan(Engine.restore(venue.titan.export_state()))
    venue.apply(stream()[3])
    assert [type(c) for c in rec.seen] == [NewOrder]
    again = Recorder()
    restored = Venue.restore(venue.export_state(), titan_probe=again)
    assert restored.titan_probe is again
    restored.apply(stream()[4])
    assert [type(c) for c in again.seen] == [NewOrder]
