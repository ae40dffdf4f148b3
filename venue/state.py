"""Export, restore and hash the venue's state (Titan's and Sentinel's together).

Sentinel's part is plain data in a canonical order: contracts in configuration order,
per symbol its mark, funding rate and next funding time, then every wallet that holds
money, positions or settings, sorted by (account, asset), each with its settings and
positions sorted by symbol. The order mirror and the detection index are derived from
Titan's open orders and the positions, so they are rebuilt on restore, not stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentinel.contracts import Contract
from sentinel.ledger import FUND, OpenOrder, Position, Sentinel
from sentinel.units import MAX_VALUE
from titan.engine import Engine
from titan.enums import OrderType, Side
from titan.state import decode_state, encode_state

if TYPE_CHECKING:
    from venue.venue import Venue

FORMAT = "venue-state/1"
SENTINEL_FORMAT = "sentinel-state/1"
_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT})


def export_sentinel(s: Sentinel) -> dict[str, Any]:
    """Canonical plain-data state of ``s``."""
    wallets = []
    settings: dict[tuple[int, str], list[list[Any]]] = {}
    for (account, sym), (lev, iso) in sorted(s.account_settings.items()):
        settings.setdefault((account, s.contracts[sym].quote), []).append([sym, lev, iso])
    for (account, asset), w in sorted(s.wallets.items()):
        positions = w.positions
        mine = settings.get((account, asset), [])
        if not (w.balance or positions or mine) and account != FUND:
            continue
        wallets.append(
            [
                account,
                asset,
                w.balance,
                mine,
                [[sym, p.size, p.cost, p.isolated, p.margin] for sym, p in positions.items()],
            ]
        )
    return {
        "format": SENTINEL_FORMAT,
        "contracts": [c.to_dict() for c in s.contracts.values()],
        "symbols": [
            [sym, s.marks.get(sym, 0), s.funding_rate.get(sym, 0), s.next_funding.get(sym, -1)]
            for sym in s.contracts
        ],
        "wallets": wallets,
        "fees": [[a, s.fees[a]] for a in s.assets],
        "net_deposits": [[a, s.net_deposits[a]] for a in s.assets],
        "next_order_id": s.next_order_id,
    }


def export_venue_state(venue: Venue) -> dict[str, Any]:
    """Canonical plain-data state of a venue."""
    return {
        "format": FORMAT,
        "titan": venue.titan.export_state(),
        "sentinel": export_sentinel(venue.sentinel),
    }


def encode_venue_state(state: dict[str, Any]) -> bytes:
    """Canonical bytes of an exported venue state (the same msgpack encoding as Titan's)."""
    return encode_state(state)


def decode_venue_state(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_venue_state` (ValueError if not a state map)."""
    return decode_state(data)


def _int(value: Any, what: str, low: int = -MAX_VALUE - 1) -> int:
    if type(value) is not int or not low <= value <= MAX_VALUE:
        raise ValueError(f"{what} is not a valid integer: {value!r}")
    return value


def _load_sentinel(s: Sentinel, state: dict[str, Any]) -> None:
    symbols = state.get("symbols")
    if not isinstance(symbols, list) or [r[0] for r in symbols if isinstance(r, list)] != list(
        s.contracts
    ):
        raise ValueError("sentinel state: symbols do not match the contracts")
    for sym, mark, rate, next_funding in symbols:
        if _int(mark, f"{sym} mark", 0):
            s.marks[sym] = mark
            s.funding_rate[sym] = _int(rate, f"{sym} funding rate")
        if _int(next_funding, f"{sym} next funding", -1) >= 0:
            s.next_funding[sym] = next_funding
    for row in state.get("wallets", []):
        if not isinstance(row, list) or len(row) != 5:
            raise ValueError(f"sentinel state: bad wallet row {row!r}")
        account, asset, balance, settings, positions = row
        if asset not in s.assets:
            raise ValueError(f"sentinel state: wallet of unknown asset {asset!r}")
        w = s.wallet(_int(account, "account", 0), asset)
        w.balance = _int(balance, f"wallet {account}/{asset} balance")
        for sym, lev, iso in settings:
            if sym not in s.contracts or s.contracts[sym].quote != asset or type(iso) is not bool:
                raise ValueError(f"sentinel state: bad settings {sym!r} of account {account}")
            s.store_settings(account, sym, _int(lev, f"{sym} leverage", 1), iso)
        for sym, size, cost, iso, margin in positions:
            if sym not in s.contracts or s.contracts[sym].quote != asset or type(iso) is not bool:
                raise ValueError(f"sentinel state: bad position {sym!r} of account {account}")
            if sym not in s.marks:
                raise ValueError(f"sentinel state: position in {sym} without a mark price")
            p = Position(account, sym, iso)
            p.size = _int(size, f"{sym} size of {account}")
            p.cost = _int(cost, f"{sym} cost of {account}")
            p.margin = _int(margin, f"{sym} margin of {account}")
            if not p.size:
                raise ValueError(f"sentinel state: empty position {sym} of account {account}")
            if account in s.holders[sym]:
                raise ValueError(f"sentinel state: two positions {sym} of account {account}")
            s.holders[sym][account] = p
            s.open_qty[sym] += abs(p.size)
    for field in ("fees", "net_deposits"):
        rows = state.get(field)
        if not isinstance(rows, list) or [r[0] for r in rows] != s.assets:
            raise ValueError(f"sentinel state: {field} do not match the assets")
        getattr(s, field).update({a: _int(v, f"{field} {a}") for a, v in rows})
    s.next_order_id = _int(state.get("next_order_id"), "next_order_id", 0)


def restore_venue_state(state: dict[str, Any]) -> Venue:
    """Rebuild a venue from :func:`export_venue_state` output.

    ValueError names the first problem; the rebuilt venue is checked against every
    invariant before it is returned, so a corrupt snapshot is never silently loaded.
    """
    from venue.venue import Venue

    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} state")
    raw = state.get("sentinel")
    if not isinstance(raw, dict) or raw.get("format") != SENTINEL_FORMAT:
        raise ValueError(f"venue state lacks a {SENTINEL_FORMAT} part")
    try:
        contracts = [Contract.from_dict(c) for c in raw["contracts"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"sentinel state has a bad contract: {exc}") from None
    venue = Venue(contracts)
    engine = Engine.restore(state.get("titan"))  # type: ignore[arg-type]
    if [engine.spec(sym) for sym in engine.symbols] != [c.spec for c in contracts]:
        raise ValueError("titan and sentinel states disagree on the symbols")
    venue.attach_titan(engine)
    s = venue.sentinel
    try:
        _load_sentinel(s, raw)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"sentinel state: {exc}") from None
    rebuild_orders(s, engine)
    for key in s.units():
        s.reindex(key)
    problems = venue.check_invariants()
    if problems:
        raise ValueError(f"restored state breaks an invariant: {problems[0]}")
    return venue


def rebuild_orders(s: Sentinel, engine: Engine) -> None:
    """Fill ``s``'s order mirror from Titan's open orders."""
    for sym in engine.symbols:
        views = [v for side in engine.l3(sym).values() for v in side]
        views += engine.pending_triggers(sym)
        for v in sorted(views, key=lambda v: v.order_id):
            s.order_opened(
                v.order_id,
                OpenOrder(
                    v.account,
                    sym,
                    v.side is Side.BUY,
                    v.price,
                    v.qty,
                    v.reduce_only,
                    v.type in _LIMIT_TYPES,
                    not v.pending_trigger,
                ),
            )
