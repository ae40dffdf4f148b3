"""The machines a journal can be replayed through, and the genesis that names them.

A journal's genesis (stored once, at creation) is MessagePack
``{"machine": "titan", "format": 1, "symbols": [SymbolSpec.to_dict(), ...]}`` (a venue
journal: ``"machine": "venue"`` and also ``"contracts": [Contract.to_dict(), ...]``):
enough to build the machine's state before record 1 without any other file, so an audit
of a journal needs only the journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from exchange.errors import UserError
from oracle.codec import CodecError, decode, encode
from oracle.replay import Machine, MachineFactory
from sentinel.contracts import Contract
from titan import Engine
from titan.state import decode_state, encode_state
from titan.symbols import SpecError, SymbolSpec
from titan.wire import command_from_wire, events_to_wire
from venue.state import decode_venue_state, encode_venue_state
from venue.venue import Venue
from venue.wire import command_from_wire as venue_command_from_wire
from venue.wire import events_to_wire as venue_events_to_wire

GENESIS_FORMAT = 1


class GenesisError(UserError):
    """A journal's genesis does not describe a machine this build can run."""


def titan_genesis(specs: Iterable[SymbolSpec]) -> bytes:
    """Genesis bytes of a Titan journal over ``specs`` (in configuration order)."""
    return encode(
        {"machine": "titan", "format": GENESIS_FORMAT, "symbols": [s.to_dict() for s in specs]}
    )


def parse_genesis(genesis: bytes) -> tuple[str, list[SymbolSpec]]:
    """(machine name, symbol specs) from genesis bytes (GenesisError naming the problem)."""
    if not genesis:
        raise GenesisError("the journal has no machine description (it was created without one)")
    try:
        data = decode(genesis)
    except CodecError as exc:
        raise GenesisError(f"journal genesis is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != GENESIS_FORMAT:
        raise GenesisError("journal genesis is not a format-1 machine description")
    machine = data.get("machine")
    if machine not in FACTORIES:
        raise GenesisError(f"journal genesis names an unknown machine {machine!r}")
    try:
        specs = [SymbolSpec(**s) for s in data.get("symbols", [])]
    except (TypeError, SpecError) as exc:
        raise GenesisError(f"journal genesis has a bad symbol spec: {exc}") from None
    return machine, specs


class TitanMachine:
    """Titan as an :class:`oracle.replay.Machine` (wire in, wire out)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(self, input: Any) -> Sequence[Any]:
        return events_to_wire(self.engine.apply(command_from_wire(input)))

    def state_hash(self) -> str:
        return self.engine.state_hash()

    def snapshot(self) -> bytes:
        return encode_state(self.engine.export_state())


class TitanFactory:
    """Builds :class:`TitanMachine` from a Titan genesis."""

    def fresh(self, genesis: bytes) -> Machine:
        _, specs = parse_genesis(genesis)
        return TitanMachine(Engine(specs))

    def restore(self, genesis: bytes, blob: bytes) -> Machine:
        _, specs = parse_genesis(genesis)
        engine = Engine.restore(decode_state(blob))
        if [engine.spec(s) for s in engine.symbols] != specs:
            raise ValueError("the snapshot's symbols differ from the journal's genesis")
        return TitanMachine(engine)


def venue_genesis(contracts: Iterable[Contract]) -> bytes:
    """Genesis bytes of a venue (Titan + Sentinel) journal over ``contracts``."""
    contracts = list(contracts)
    return encode(
        {
            "machine": "venue",
            "format": GENESIS_FORMAT,
            "symbols": [c.spec.to_dict() for c in contracts],
            "contracts": [c.to_dict() for c in contracts],
        }
    )


def parse_contracts(genesis: bytes) -> list[Contract]:
    """The contracts of a venue genesis (GenesisError naming the problem)."""
    machine, specs = parse_genesis(genesis)
    if machine != "venue":
        raise GenesisError(f"the journal records a {machine!r} machine, not a venue")
    try:
        contracts = [Contract.from_dict(c) for c in decode(genesis).get("contracts", [])]
    except (CodecError, KeyError, TypeError, ValueError) as exc:
        raise GenesisError(f"journal genesis has a bad contract: {exc}") from None
    if [c.spec for c in contracts] != specs:
        raise GenesisError("journal genesis: contracts and symbols disagree")
    return contracts


class VenueMachine:
    """The venue (Titan + Sentinel) as an :class:`oracle.replay.Machine`."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def apply(self, input: Any) -> Sequence[Any]:
        return venue_events_to_wire(self.venue.apply(venue_command_from_wire(input)))

    def state_hash(self) -> str:
        return self.venue.state_hash()

    def snapshot(self) -> bytes:
        return encode_venue_state(self.venue.export_state())


class VenueFactory:
    """Builds :class:`VenueMachine` from a venue genesis."""

    def fresh(self, genesis: bytes) -> Machine:
        return VenueMachine(Venue(parse_contracts(genesis)))

    def restore(self, genesis: bytes, blob: bytes) -> Machine:
        contracts = parse_contracts(genesis)
        venue = Venue.restore(decode_venue_state(blob))
        if list(venue.ledger.contracts.values()) != contracts:
            raise ValueError("the snapshot's contracts differ from the journal's genesis")
        return VenueMachine(venue)


FACTORIES: dict[str, MachineFactory] = {"titan": TitanFactory(), "venue": VenueFactory()}


def factory_for(genesis: bytes) -> MachineFactory:
    """The factory that can replay a journal with this genesis."""
    machine, _ = parse_genesis(genesis)
    return FACTORIES[machine]
