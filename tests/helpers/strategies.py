"""Hypothesis strategies (and the symbol set they target) for Titan's property tests.

Commands are drawn mostly valid and near a mid price, so books fill and orders cross,
with a steady minority of invalid input: prices and stops off the tick grid, far from
the mid or not integers, quantities off the lot grid, above the maximum or <= 0, unknown
enum values, accounts and symbols, and non-string client order ids. Each strategy draws
keyword arguments for a command (without ``seq``/``ts``); the state machine picks order
ids itself, since only it knows which ones are open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from titan import OrderType, Side, StpMode, SymbolSpec, TimeInForce, WorkingType
from titan.enums import CONDITIONAL_TYPES, MARKET_TYPES

T = TypeVar("T")

SPECS = (
    # tick 0.5, lot 0.010, min notional 2.0, max qty 0.100, +/-10% band
    SymbolSpec("BTC", 1, 3, tick=5, lot=10, min_notional=20_000, max_qty=100, band_bps=1_000),
    # no filters at all: every integer price and quantity is on the grid
    SymbolSpec("ETH", 2, 2, tick=1, lot=1),
)
SPEC = {spec.symbol: spec for spec in SPECS}
MID = {"BTC": 1_000, "ETH": 500}
ACCOUNTS = (1, 2, 3)
UNKNOWN_SYMBOL = "DOGE"
CLIENT_IDS = ("a", "b", "c", "d", "e")


def mostly(common: st.SearchStrategy[T], *rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` nine times in ten, else one of ``rare``. The selector shrinks towards 0,
    so a failing example shrinks towards ``common`` input."""
    if not rare:
        return common
    unusual = st.one_of(*rare)
    return st.integers(0, 9).flatmap(lambda n: unusual if n == 9 else common)


def symbols() -> st.SearchStrategy[str]:
    """A configured symbol, now and then an unknown one."""
    return mostly(st.sampled_from(tuple(MID)), st.just(UNKNOWN_SYMBOL))


def accounts() -> st.SearchStrategy[Any]:
    """A known account, now and then an account that is not an integer."""
    return mostly(st.sampled_from(ACCOUNTS), st.sampled_from(["x", None, 1.0]))


def _grid(symbol: str) -> SymbolSpec:
    return SPEC.get(symbol, SPECS[0])


def _mid(symbol: str) -> int:
    return MID.get(symbol, MID["BTC"])


def grid_prices(symbol: str, ticks: int = 3) -> st.SearchStrategy[int]:
    """A price on the tick grid within ``ticks`` ticks of the mid."""
    spec, mid = _grid(symbol), _mid(symbol)
    return st.integers(-ticks, ticks).map(lambda k: mid + k * spec.tick)


def bad_prices(symbol: str) -> st.SearchStrategy[Any]:
    """Prices a limit order must not have: off the tick grid, <= 0, not an integer."""
    spec, mid = _grid(symbol), _mid(symbol)
    bad: list[st.SearchStrategy[Any]] = [st.sampled_from([0, -spec.tick, str(mid), mid + 0.0])]
    if spec.tick > 1:
        bad.append(st.tuples(grid_prices(symbol), st.integers(1, spec.tick - 1)).map(sum))
    return st.one_of(*bad)


def prices(symbol: str, ticks: int = 3) -> st.SearchStrategy[Any]:
    """Mostly :func:`grid_prices`; rarely far from the mid (outside a 10% band) or bad."""
    far = st.integers(-40, 40).map(lambda k: _mid(symbol) + k * _grid(symbol).tick)
    return mostly(grid_prices(symbol, ticks), far, bad_prices(symbol))


def lot_quantities(symbol: str) -> st.SearchStrategy[int]:
    """1..10 lots (never above the symbol's maximum)."""
    spec = _grid(symbol)
    top = min(10, spec.max_qty // spec.lot) if spec.max_qty else 10
    return st.integers(1, top).map(lambda k: k * spec.lot)


def bad_quantities(symbol: str) -> st.SearchStrategy[Any]:
    """Quantities that must be rejected: <= 0, not an integer, off the lot grid, too big."""
    spec = _grid(symbol)
    bad: list[st.SearchStrategy[Any]] = [
        st.sampled_from([0, -spec.lot, True, float(spec.lot), str(spec.lot)])
    ]
    if spec.lot > 1:
        bad.append(lot_quantities(symbol).map(lambda q: q + 1))
    if spec.max_qty:
        bad.append(st.integers(1, 3).map(lambda k: spec.max_qty + k * spec.lot))
    return st.one_of(*bad)


def quantities(symbol: str) -> st.SearchStrategy[Any]:
    """Mostly :func:`lot_quantities`, rarely :func:`bad_quantities`."""
    return mostly(lot_quantities(symbol), bad_quantities(symbol))


def enum_values(
    members: Sequence[Any], common: Sequence[Any] | None = None
) -> st.SearchStrategy[Any]:
    """A member (from ``common`` if given, which may repeat members to weight them), now
    and then as the plain string equal to it (the engine must accept both)."""
    pool = st.sampled_from(common or members)
    return mostly(pool, pool.map(str))


# no client order id four times in five, else one of a few (so duplicates happen)
_CLIENT_ID = st.sampled_from(("",) * 4 * len(CLIENT_IDS) + CLIENT_IDS)
ORDER_TYPES = [OrderType.LIMIT] * 4 + [OrderType.MARKET] * 2 + sorted(CONDITIONAL_TYPES)
STP_MODES = [StpMode.NONE, StpMode.NONE, *StpMode]


@st.composite
def resting_orders(draw: st.DrawFn, symbol: str, max_size: int = 16) -> list[dict[str, Any]]:
    """A non-crossing book for ``symbol``: GTC limit orders 1..4 ticks from the mid, bids
    below it and asks above it, from every account, with every STP mode."""
    spec = SPEC[symbol]
    row = st.tuples(
        st.sampled_from(ACCOUNTS),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 4),
        lot_quantities(symbol),
        st.sampled_from(STP_MODES),
    )
    out = []
    for account, side, ticks, qty, stp in draw(st.lists(row, max_size=max_size)):
        sign = -1 if side is Side.BUY else 1
        price = MID[symbol] + sign * ticks * spec.tick
        out.append({"symbol": symbol, "account": account, "side": side, "qty": qty})
        out[-1].update(price=price, stp=stp)
    return out


@st.composite
def valid_order_kwargs(
    draw: st.DrawFn, types: list[OrderType] | None = None, tifs: list[TimeInForce] | None = None
) -> dict[str, Any]:
    """Keyword arguments for a well-formed :class:`titan.NewOrder` (no seq, ts, order_id).

    Well-formed is not necessarily accepted: the notional, the price band, a duplicate
    client order id or a stop the price has already reached depend on the engine's state.
    """
    symbol = draw(st.sampled_from(tuple(MID)))
    otype = draw(enum_values(list(OrderType), types or ORDER_TYPES))
    market = otype in MARKET_TYPES
    tif_pool = tifs or [t for t in TimeInForce if not (market and t is TimeInForce.GTX)]
    return {
        "symbol": symbol,
        "account": draw(st.sampled_from(ACCOUNTS)),
        "side": draw(enum_values(list(Side))),
        "qty": draw(lot_quantities(symbol)),
        "price": 0 if market else draw(mostly(grid_prices(symbol), grid_prices(symbol, 40))),
        "type": otype,
        "tif": draw(enum_values(tif_pool)),
        "stop_price": draw(grid_prices(symbol)) if otype in CONDITIONAL_TYPES else 0,
        "working_type": draw(enum_values(list(WorkingType))),
        "reduce_only": draw(st.booleans()),
        "client_order_id": draw(_CLIENT_ID),
        "stp": draw(enum_values(list(StpMode), STP_MODES)),
    }


def _defects(kw: dict[str, Any]) -> list[st.SearchStrategy[dict[str, Any]]]:
    """One-field corruptions of a well-formed order, each must be rejected."""
    symbol = kw["symbol"]
    market = kw["type"] in MARKET_TYPES
    conditional = kw["type"] in CONDITIONAL_TYPES

    def put(field: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return values.map(lambda v: {**kw, field: v})

    out = [
        put("symbol", st.just(UNKNOWN_SYMBOL)),
        put("account", st.sampled_from(["x", None, 1.0])),
        put("side", st.sampled_from(["HOLD", "buy", 1])),
        put("type", st.sampled_from(["ICEBERG", "limit"])),
        put("tif", st.sampled_from(["DAY", "gtc"])),
        put("stp", st.sampled_from(["EXPIRE_ALL", None])),
        put("working_type", st.sampled_from(["INDEX_PRICE", ""])),
        put("qty", bad_quantities(symbol)),
        put("client_order_id", st.sampled_from([42, None])),
    ]
    if market:
        out.append(put("price", grid_prices(symbol)))
        out.append(put("tif", st.just(TimeInForce.GTX)))
    else:
        out.append(put("price", bad_prices(symbol)))
    if conditional:
        out.append(put("stop_price", bad_prices(symbol)))
    else:
        out.append(put("stop_price", grid_prices(symbol)))
    return out


@st.composite
def new_order_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for :class:`titan.NewOrder` except seq, ts and order_id: a
    well-formed order four times in five, else one with exactly one field broken."""
    kw = draw(valid_order_kwargs())
    if draw(st.integers(0, 4)) < 4:  # shrinks towards the well-formed order
        return kw
    broken: dict[str, Any] = draw(st.one_of(*_defects(kw)))
    return broken


def mark_prices(symbol: str) -> st.SearchStrategy[Any]:
    """A mark price near the mid (any integer, the mark is not on the tick grid), rarely
    far away, <= 0 or not an integer."""
    mid = _mid(symbol)
    return mostly(
        st.integers(mid - mid // 20, mid + mid // 20),
        st.integers(mid // 2, mid * 2),
        st.sampled_from([0, -1, str(mid)]),
    )
