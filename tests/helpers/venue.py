"""A two-contract venue to drive by hand, and a brute-force scan of its units.

:class:`Harness` applies commands to a :class:`venue.venue.Venue` over BTCUSDT and ETHUSDT
(ETH with a small bracket table, so positions of a few thousand USDT change bracket) with
its own seq, ts and order ids, and checks the invariants after every command;
:func:`open_market` sets the marks and funds the market maker every position is opened
against.

The brute force is independent of Sentinel's code: it reads the plain exported state
(``export_state()``: wallets, positions, contracts) and applies only the published
formulas (docs/sentinel.md, Margin): maintenance = notional x mmr - cum from the bracket table
(cum derived here from the raw rows), margin balance = wallet (or isolated margin) +
unrealized PnL, and a unit is crossed when maintenance >= margin balance, compared
exactly (both sides times RATE_ONE, no rounding).
"""

from __future__ import annotations

from exchange.flow.venue_stream import BTC, ETH, MID, MM, SPECS, SYMBOLS, T0, make_contracts
from sentinel.commands import Deposit, MarkPrice, SetLeverage
from sentinel.events import LiquidationStarted
from sentinel.ledger import FUND
from sentinel.units import RATE_ONE, money
from titan.commands import CancelAll, NewOrder
from titan.enums import Side
from venue.venue import Venue

# the stream's market, re-exported for the tests that drive the venue by hand
__all__ = ["BTC", "ETH", "MID", "MM", "SPECS", "SYMBOLS", "T0", "Harness", "make_contracts"]

UnitKey = tuple[int, str, str]
Health = dict[UnitKey, tuple[int, int]]


# -- the brute force ------------------------------------------------------------------


def bracket_tables(state: dict) -> dict[str, tuple[int, list[tuple[int, int, int]]]]:
    """symbol -> (money per price unit x qty unit, [(cap, mmr, cum x RATE_ONE)])."""
    out = {}
    for c in state["sentinel"]["contracts"]:
        spec = c["spec"]
        scale = 10 ** (8 - spec["price_decimals"] - spec["qty_decimals"])
        rows = []
        cum = prev = 0
        for floor, cap, mmr, _lev in c["brackets"]:
            cum += floor * (mmr - prev)  # cum_n = floor_n (mmr_n - mmr_n-1) + cum_n-1
            prev = mmr
            rows.append((cap, mmr, cum))
        out[spec["symbol"]] = (scale, rows)
    return out


def maintenance_scaled(rows: list[tuple[int, int, int]], notional: int) -> int:
    """notional x mmr - cum, times RATE_ONE, in the bracket (floor, cap] of the notional."""
    for cap, mmr, cum in rows:
        if notional <= cap:
            return notional * mmr - cum
    _, mmr, cum = rows[-1]
    return notional * mmr - cum


def unit_health(state: dict, marks: dict[str, int] | None = None) -> Health:
    """(margin balance x RATE_ONE, maintenance x RATE_ONE) of every unit holding
    positions (the fund excluded), at the state's marks overridden by ``marks``."""
    tables = bracket_tables(state)
    at = {row[0]: row[1] for row in state["sentinel"]["symbols"]}
    at.update(marks or {})
    out: Health = {}
    for account, asset, balance, _settings, positions in state["sentinel"]["wallets"]:
        if account == FUND:
            continue
        cross_balance, cross_mm, cross = balance * RATE_ONE, 0, False
        for sym, size, cost, isolated, margin in positions:
            scale, rows = tables[sym]
            upnl = size * at[sym] * scale - cost
            mm = maintenance_scaled(rows, abs(size) * at[sym] * scale)
            if isolated:
                out[(account, asset, sym)] = ((margin + upnl) * RATE_ONE, mm)
            else:
                cross_balance += upnl * RATE_ONE
                cross_mm += mm
                cross = True
        if cross:
            out[(account, asset, "")] = (cross_balance, cross_mm)
    return out


def crossed_units(state: dict, marks: dict[str, int] | None = None) -> set[UnitKey]:
    """Every unit with maintenance >= margin balance, by scanning every account."""
    return {k for k, (balance, mm) in unit_health(state, marks).items() if mm >= balance}


def unit_symbols(state: dict, key: UnitKey) -> dict[str, int]:
    """The unit's positions: symbol -> size."""
    for account, asset, _b, _s, positions in state["sentinel"]["wallets"]:
        if (account, asset) == key[:2]:
            return {
                sym: size
                for sym, size, _c, iso, _m in positions
                if (sym == key[2] if key[2] else not iso)
            }
    return {}


def boundary_mark(state: dict, key: UnitKey, symbol: str, long: bool) -> int | None:
    """The exact mark of ``symbol`` where ``key`` starts to be crossed (others fixed):
    the highest crossing mark for a long, the lowest for a short; None if there is none
    in a wide range. Found by bisection on the brute force (crossing is monotone)."""

    def crossed(m: int) -> bool:
        balance, mm = unit_health(state, {symbol: m})[key]
        return mm >= balance

    lo, hi = 1, MID[symbol] * 100
    if long:
        if not crossed(lo):
            return None
        while hi - lo > 1:  # crossed(lo), not known at hi
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if crossed(mid) else (lo, mid)
        return hi - 1 if crossed(hi - 1) and not crossed(hi) else lo
    if not crossed(hi):
        return None
    while hi - lo > 1:  # crossed(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if crossed(mid) else (mid, hi)
    return hi


# -- driving a venue ------------------------------------------------------------------


class Harness:
    """A venue with its own seq/ts/order ids; checks the invariants after every command."""

    def __init__(self, venue: Venue | None = None, seq: int = 0) -> None:
        self.venue = venue if venue is not None else Venue(make_contracts())
        self.seq = seq
        self.oid = 0

    @property
    def ts(self) -> int:
        return T0 + self.seq

    def __call__(self, cls: type, *args: object, **kwargs: object) -> list:
        self.seq += 1
        events = self.venue.apply(cls(self.seq, self.ts, *args, **kwargs))
        assert self.venue.check_invariants() == []
        return events

    def order(self, symbol: str, account: int, side: Side, qty: int, price: int, **kw) -> list:
        self.oid += 1
        return self(NewOrder, symbol, account, self.oid, side, qty, price, **kw)

    def trade(self, symbol: str, account: int, buy: bool, qty: int, price: int) -> None:
        """``account`` takes ``qty`` at ``price`` from the market maker; nothing rests."""
        self.order(symbol, MM, Side.SELL if buy else Side.BUY, qty, price)
        self.order(symbol, account, Side.BUY if buy else Side.SELL, qty, price, tif="IOC")
        if self.venue.titan.open_orders(MM, symbol):  # the taker was refused
            self(CancelAll, symbol, MM)

    def clone(self) -> Harness:
        h = Harness(Venue.restore(self.venue.export_state()), self.seq)
        h.oid = self.oid
        return h

    def marks(self) -> dict[str, int]:
        return dict(self.venue.ledger.marks)


def started_units(events: list) -> list[UnitKey]:
    return [(e.account, e.asset, e.symbol) for e in events if type(e) is LiquidationStarted]


def open_market(h: Harness) -> None:
    h(MarkPrice, "BTCUSDT", MID["BTCUSDT"])
    h(MarkPrice, "ETHUSDT", MID["ETHUSDT"])
    h(Deposit, MM, "USDT", money("1000000000"))
    for sym in SYMBOLS:  # low leverage: the market maker may hold very large positions
        h(SetLeverage, MM, sym, 2)
