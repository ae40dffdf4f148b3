"""The ledger's plain-data state, ``sentinel-state/1``: export and load.

Rules:

- Canonical order, so equal ledgers export equal data (and equal bytes): contracts in
  configuration order; per symbol its mark, funding rate and next funding time (0, 0 and
  -1 when it has none); every wallet that holds money, positions or settings (the
  insurance fund's always), sorted by (account, asset), each with its non-default
  settings and its positions sorted by symbol; the fee and net-deposit ledgers per
  asset; the next internal order id.
- Only what cannot be derived is stored: the order mirror is rebuilt from Titan's open
  orders and the liquidation index from the positions.
- Loading checks every integer against the state bounds (:data:`sentinel.units.MAX_VALUE`)
  and the shape against the contracts, and names the first problem.
"""

from __future__ import annotations

from typing import Any

from sentinel.ledger import FUND, Ledger, Position
from sentinel.units import MAX_VALUE

FORMAT = "sentinel-state/1"


def export_ledger(s: Ledger) -> dict[str, Any]:
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
        "format": FORMAT,
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


def _int(value: object, what: str, low: int = -MAX_VALUE - 1) -> int:
    if type(value) is not int or not low <= value <= MAX_VALUE:
        raise ValueError(f"{what} is not a valid integer: {value!r}")
    return value


def load_ledger(s: Ledger, state: dict[str, Any]) -> None:
    """Fill the fresh ledger ``s`` (built from the state's contracts) from
    :func:`export_ledger` output; ValueError, TypeError or KeyError on the first problem.
    The order mirror and the index are left to the caller (they need Titan's orders)."""
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
