"""What the metrics exporter shows that must be counted as it happens, on the loop.

:class:`Telemetry` is fed by the platform: ``on_committed`` with every durable batch
(the sequencer's subscriber), the timing probes installed on the venue, the price
sources and the start-up replay. It holds plain counters and :class:`Buckets` that the
exporter (:mod:`exchange.metrics.exporter`) reads when scraped.

Rules
-----
- Durable only: every counter and distribution derived from records counts records the
  journal has made durable, never an input still in flight.
- Label values come from fixed sets: symbols and assets of the configured contracts,
  the engines' enums (order type, reject reason, refusal), command class names. A value
  outside its set (an unknown symbol in a refused input) is counted as ``"UNKNOWN"``, so a
  bad input can never grow the label set.
- Prices and quantities are kept in the engines' integer units and converted to quote
  and base units only when exported.
- Liquidation loss: what the liquidated account lost in one liquidation, the whole
  wallet of its margin unit (the cross wallet, or the isolated position's margin). It is
  computed from the liquidation's events as the margin left that went to the insurance
  fund (clearance fee plus remainder, negative for a deficit the fund covered) minus the
  realised PnL plus the trading fees of the account's closing fills.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

from exchange.runtime.buckets import LATENCY_NS, Buckets, exponential, one_two_five
from exchange.runtime.sequencer import Committed, Sequencer
from sentinel.commands import MarkPrice
from sentinel.contracts import Contract
from sentinel.events import (
    AutoDeleveraged,
    FundChanged,
    InsuranceTakeover,
    LiquidationFinished,
    LiquidationStarted,
    PositionChanged,
    Refusal,
    Refused,
)
from sentinel.units import MONEY_ONE
from titan.enums import OrderType, RejectReason
from titan.events import Accepted, Rejected, Trade
from titan.symbols import SymbolSpec
from venue.types import Event, TitanApply, TitanCommand, TitanEvent
from venue.venue import Venue

UNKNOWN = "UNKNOWN"
#: Titan is timed on one command in this many of each kind (see Telemetry.install)
TITAN_SAMPLE = 4
#: execution-price buckets: the fixed grid 10**(k/100) quote units (2.3% apart)
PRICE_STEPS_PER_DECADE = 100
#: feed latency bounds in seconds: 1 ms .. ~16 s
FEED_LATENCY_S = exponential(0.001, 2, 15)
#: liquidation loss bounds in money units: 1 .. 5e7 of the margin asset
LOSS_BOUNDS = one_two_five(MONEY_ONE, 8)


class Telemetry:
    """Counters and distributions of one running platform (see the module rules)."""

    def __init__(self, contracts: Iterable[Contract], source: str) -> None:
        contracts = list(contracts)
        self.source = source
        self.specs = {c.spec.symbol: c.spec for c in contracts}
        self.assets = sorted({c.quote for c in contracts})
        symbols = list(self.specs)
        # Titan
        # every known label value starts at 0: a series exists before its first event
        self.orders = {(s, kind): 0 for s in symbols for kind in OrderType}
        self.rejections = dict.fromkeys(RejectReason, 0)
        self.trade_price: dict[str, Buckets] = {}  # price units; made at the first price
        self.trade_qty = {s: Buckets(one_two_five(spec.lot, 7)) for s, spec in self.specs.items()}
        self.match: dict[str, Buckets] = {}  # ns, by Titan command
        # Sentinel
        self.refusals = dict.fromkeys(Refusal, 0)
        self.liquidations = dict.fromkeys(symbols, 0)
        self.takeovers = dict.fromkeys(symbols, 0)
        self.adl = dict.fromkeys(symbols, 0)
        self.loss = {a: Buckets(LOSS_BOUNDS) for a in self.assets}  # money units
        self.fund: dict[str, int] = {}
        self.marks: dict[str, int] = {}  # price units, durable
        self.tick = Buckets(LATENCY_NS)  # ns per mark price input
        # Oracle
        self.events = 0
        self.replay_records = 0
        self.replay_seconds = 0.0
        # price feed
        self.updates = dict.fromkeys(symbols, 0)  # durable marks
        self.last_update: dict[str, float] = {}  # time.monotonic() a mark reached us
        self.feed_latency = Buckets(FEED_LATENCY_S)  # seconds
        self._liquidating = False  # the record being read holds a liquidation
        self._handlers: dict[type, Callable[[Any], None]] = {
            Trade: self._trade,
            Accepted: self._accepted,
            FundChanged: self._fund_changed,
            Rejected: self._rejected,
            Refused: self._refused,
            LiquidationStarted: self._liquidation_started,
            InsuranceTakeover: self._takeover,
            AutoDeleveraged: self._adl,
        }

    # -- start-up -----------------------------------------------------------------------

    def attach(self, venue: Venue, seq: Sequencer) -> None:
        """Count what ``seq`` executes on ``venue`` from now on: the venue's durable marks
        and fund as they are, the timing probes, the commit histograms, every durable
        batch. ``venue`` is the sequencer's, at its last durable record."""
        self.restored(venue)
        self.install(venue, seq)
        seq.keep_histograms()
        seq.subscribe(self.on_committed)

    def restored(self, venue: Venue) -> None:
        """Start from a resumed venue: its durable marks and insurance fund."""
        for symbol in self.specs:
            mark = venue.titan.mark_price(symbol)
            if mark:
                self.marks[symbol] = mark
                self._anchor(symbol, mark)
        for asset in self.assets:
            self.fund[asset] = venue.ledger.fund_balance(asset)

    def replay_progress(self, started: float) -> Callable[[int], None]:
        """A ``rebuild`` progress callback (called with the seq just replayed) that keeps
        the replay figures current while the venue is rebuilt. The records counted are
        those from the first call on (the snapshot the replay starts from is unknown
        until it ends), so the figure only grows; :meth:`replayed` sets the exact one."""
        first: list[int] = []

        def progress(seq: int) -> None:
            if not first:
                first.append(seq)
            self.replay_records = max(self.replay_records, seq - first[0])
            self.replay_seconds = time.perf_counter() - started

        return progress

    def replayed(self, records: int, seconds: float) -> None:
        """The start-up replay is over: ``records`` replayed in ``seconds``."""
        self.replay_records = max(self.replay_records, records)
        self.replay_seconds = seconds

    # -- probes (on the loop, per executed input) ---------------------------------------

    def install(self, venue: Venue, seq: Sequencer) -> None:
        """Time Titan's commands (through the venue's ``titan_probe`` hook, which wraps
        every call into Titan; the engines stay unaware of any clock) and the sequencer's
        mark-price inputs. Titan is timed on every ``TITAN_SAMPLE``-th command of each
        kind (the 4th, 8th, ...): its commands are the most frequent thing on the loop,
        and a systematic sample of each kind keeps the distribution at a quarter of the
        cost."""
        by_type: dict[type, list[Any]] = {}  # command type -> [Buckets, commands seen]
        match = self.match
        clock = time.perf_counter_ns
        bounds = LATENCY_NS
        every = TITAN_SAMPLE

        def timed_titan(titan_apply: TitanApply, cmd: TitanCommand) -> list[TitanEvent]:
            entry = by_type.get(type(cmd))
            if entry is None:
                hist = match[type(cmd).__name__] = Buckets(bounds)
                entry = by_type[type(cmd)] = [hist, 0]
            entry[1] += 1
            if entry[1] % every:
                return titan_apply(cmd)
            started = clock()
            events = titan_apply(cmd)
            elapsed = clock() - started
            hist = entry[0]
            hist.counts[bisect_left(bounds, elapsed)] += 1  # Buckets.observe, inlined
            hist.total += elapsed
            return events

        venue.titan_probe = timed_titan
        seq.time_inputs(MarkPrice, self.tick)

    def mark_received(self, symbol: str, latency_s: float | None = None) -> None:
        """A price source handed a mark of ``symbol`` to the intake."""
        self.last_update[symbol] = time.monotonic()
        if latency_s is not None:
            self.feed_latency.observe(latency_s)

    # -- durable records ----------------------------------------------------------------

    def on_committed(self, batch: list[Committed]) -> None:
        """Count a durable batch (the sequencer's subscriber)."""
        get = self._handlers.get
        events_seen = 0
        for rec in batch:
            events = rec.events
            events_seen += len(events)
            for e in events:
                handler = get(type(e))
                if handler is not None:
                    handler(e)
            if self._liquidating:
                self._liquidations(events)
            cmd = rec.command
            if type(cmd) is MarkPrice:
                self._mark(cmd, events)
        self.events += events_seen

    def _mark(self, cmd: MarkPrice, events: list[Event]) -> None:
        known = cmd.symbol in self.specs
        symbol = cmd.symbol if known else UNKNOWN
        self.updates[symbol] = self.updates.get(symbol, 0) + 1
        # a refused mark produces a Refused event first and is not the mark
        if known and (not events or type(events[0]) is not Refused):
            self.marks[symbol] = cmd.price
            self._anchor(symbol, cmd.price)

    def _accepted(self, e: Accepted) -> None:
        key = (e.symbol, e.type)  # the enum: made a label only when scraped
        self.orders[key] = self.orders.get(key, 0) + 1

    def _fund_changed(self, e: FundChanged) -> None:
        self.fund[e.asset] = e.balance

    def _rejected(self, e: Rejected) -> None:
        self.rejections[e.reason] = self.rejections.get(e.reason, 0) + 1

    def _liquidation_started(self, _e: LiquidationStarted) -> None:
        self._liquidating = True

    def _takeover(self, e: InsuranceTakeover) -> None:
        self.takeovers[e.symbol] = self.takeovers.get(e.symbol, 0) + 1

    def _adl(self, e: AutoDeleveraged) -> None:
        self.adl[e.symbol] = self.adl.get(e.symbol, 0) + 1

    def _trade(self, e: Trade) -> None:
        symbol, qty = e.symbol, e.qty
        hist = self.trade_qty[symbol]
        hist.counts[bisect_left(hist.bounds, qty)] += 1
        hist.total += qty
        hist = self.trade_price.get(symbol) or self._anchor(symbol, e.price)
        hist.counts[bisect_left(hist.bounds, e.price)] += 1
        hist.total += e.price

    def _refused(self, e: Refused) -> None:
        self.refusals[e.reason] = self.refusals.get(e.reason, 0) + 1

    def _liquidations(self, events: list[Event]) -> None:
        """The liquidations in one record's events: the symbols whose positions they
        closed, and each one's loss (see the module rules)."""
        self._liquidating = False
        account = None
        closed: dict[str, None] = {}
        pnl_and_fees = 0
        for e in events:
            if type(e) is LiquidationStarted:
                account, closed, pnl_and_fees = e.account, {}, 0
            elif type(e) is PositionChanged and e.account == account:  # a closing fill
                pnl_and_fees += e.fee - e.realized_pnl
                if e.size == 0:
                    closed[e.symbol] = None
            elif type(e) is LiquidationFinished and e.account == account:
                for symbol in closed:
                    self.liquidations[symbol] = self.liquidations.get(symbol, 0) + 1
                hist = self.loss.get(e.asset)
                if hist is not None:
                    hist.observe(e.fee + e.remainder + pnl_and_fees)
                account = None

    def _anchor(self, symbol: str, price: int) -> Buckets:
        """The execution-price buckets of ``symbol``, made at the first price seen."""
        hist = self.trade_price.get(symbol)
        if hist is None:
            hist = self.trade_price[symbol] = Buckets(price_bounds(self.specs[symbol], price))
        return hist

    # -- conversions for the exporter ---------------------------------------------------

    def price_unit(self, symbol: str) -> int:
        """Price units per quote unit of ``symbol`` (divide to get quote units)."""
        return int(10 ** self.specs[symbol].price_decimals)

    def qty_unit(self, symbol: str) -> int:
        """Quantity units per base unit of ``symbol`` (divide to get base units)."""
        return int(10 ** self.specs[symbol].qty_decimals)


def price_bounds(spec: SymbolSpec, price: int) -> list[int]:
    """Execution-price bounds (price units) for a symbol first seen at ``price``.

    The bounds are points of one fixed grid, ``10**(k/100)`` quote units rounded to the
    tick, from half a decade below the decade holding ``price`` to half a decade above it
    (201 points: BTC at 28,000 or at 90,000 both get 3,162 .. 316,228). Two processes,
    or one before and after a restart, get the same bounds while their prices stay in
    the same decade, so their histograms add up.
    """
    unit = 10**spec.price_decimals
    decade = math.floor(math.log10(max(price, 1) / unit))
    steps = PRICE_STEPS_PER_DECADE
    grid = range(decade * steps - steps // 2, (decade + 1) * steps + steps // 2 + 1)
    tick = spec.tick
    return sorted({max(tick, round(10 ** (k / steps) * unit / tick) * tick) for k in grid})
