"""The venue's invariants, checked after every step of the stateful tests and on every
restore (:meth:`venue.venue.Venue.restore`). :func:`check_venue` takes Titan's engine and
the ledger and lists every violation:

- Titan's own invariants hold.
- Conservation, per quote asset: the wallets (the insurance fund's included), isolated
  margins and fees collected, minus the entry cost of every open position, equal the net
  deposits. Realized PnL, fees, funding, liquidation fees, surpluses and deficits only
  move money between these; the entry costs are there because PnL is only zero-sum
  together with the positions still open (their sizes sum to zero, so this is the same
  as "balances plus unrealized PnL at any common price").
- Every symbol's position sizes sum to zero and its open quantity is the sum of their
  absolute values; no empty position is kept; the per-symbol holder index and the
  wallets agree.
- The order mirror equals one rebuilt from Titan's open orders.
- No unit is crossed (liquidation always completes within the command), and every unit
  with positions has a live index entry for each of them; an isolated or single-position
  unit's entry is exactly its liquidation threshold.
"""

from __future__ import annotations

from sentinel.ledger import FUND, Ledger
from sentinel.margin import threshold
from titan.engine import Engine
from venue.state import rebuild_orders


def _exposures(s: Ledger) -> dict[tuple[int, str, str], tuple[int, ...]]:
    return {
        (w.account, w.asset, sym): (
            ex.buy_qty,
            ex.buy_notional,
            ex.sell_qty,
            ex.sell_notional,
            ex.ro_buy,
            ex.ro_sell,
        )  # fmt: skip
        for w in s.wallets.values()
        for sym, ex in (w.exposure or {}).items()
        if not ex.empty()
    }


def check_venue(titan: Engine, s: Ledger) -> list[str]:
    """Every violated invariant of the venue made of ``titan`` and the ledger ``s``, as
    readable strings; empty when sound."""
    problems = list(titan.check_invariants())
    for asset in s.assets:
        total = s.fees[asset]
        for (_, a), w in s.wallets.items():
            if a != asset:
                continue
            total += w.balance
            for p in w.positions.values():
                total += p.margin - p.cost
        if total != s.net_deposits[asset]:
            problems.append(
                f"{asset}: wallets + margins + fees - entry costs = {total}, "
                f"net deposits = {s.net_deposits[asset]}"
            )
    for sym, holders in s.holders.items():
        if s.open_qty[sym] != sum(abs(p.size) for p in holders.values()):
            problems.append(f"{sym}: open quantity {s.open_qty[sym]} is not the sum of |sizes|")
        if sum(p.size for p in holders.values()):
            problems.append(f"{sym}: position sizes sum to {sum(p.size for p in holders.values())}")
        for account, p in holders.items():
            owner = s.wallets.get((account, s.contracts[sym].quote))
            if owner is None or owner.positions.get(sym) is not p:
                problems.append(f"{sym}: holder {account} is not in its wallet")
            if not p.size:
                problems.append(f"{sym}: account {account} keeps an empty position")
    for w in s.wallets.values():
        if w.exposure is not None and (
            not w.exposure or any(e.empty() for e in w.exposure.values())
        ):
            problems.append(f"wallet {w.account}/{w.asset} keeps an empty exposure")
    fresh = Ledger(s.contracts.values())
    rebuild_orders(fresh, titan)
    if _exposures(fresh) != _exposures(s):
        problems.append("order mirror differs from Titan's open orders")
    if {o: (v.qty, v.price) for o, v in fresh.orders.items()} != {
        o: (v.qty, v.price) for o, v in s.orders.items()
    }:
        problems.append("mirrored orders differ from Titan's open orders")
    indexed: dict[tuple[str, tuple[int, str, str]], list[int]] = {}
    for sym in s.contracts:
        for _, t, key in s.index_entries(sym):
            indexed.setdefault((sym, key), []).append(t)
    for key in s.units():
        if s.crossed(key):
            problems.append(f"unit {key} is crossed after the command")
        positions = s.unit_positions(key)
        for p in positions:
            entries = indexed.get((p.symbol, key), [])
            if len(entries) != 1:
                problems.append(f"unit {key} has {len(entries)} live entries in {p.symbol}")
            elif len(positions) == 1:
                c = s.contracts[p.symbol]
                wallet = p.margin if key[2] else s.wallets[(key[0], key[1])].balance
                want = threshold(
                    p.size > 0, abs(p.size), wallet - p.cost, c.scale, c.brackets.brackets
                )
                if entries[0] != want:
                    problems.append(f"unit {key}: index says {entries[0]}, threshold is {want}")
    if any(key[0] == FUND for _, key in indexed):
        problems.append("the insurance fund is in the liquidation index")
    return problems
