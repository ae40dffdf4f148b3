"""Sentinel's ledger: wallets, positions, clearing, margin, funding and the liquidation index.

Pure and deterministic like Titan: integers only, no clock, no randomness. The venue
(:mod:`venue.venue`) feeds it Titan's events and asks it what to liquidate; it changes
the ledger only through the :class:`Ledger`'s methods, each of which states its rule,
and every method that changes money or positions reports it as events through an
:class:`~sentinel.events.Emitter`.

Model (one-way mode, Binance USDⓈ-M)
------------------------------------
- A *wallet* is one account's balance in one quote asset; it backs every cross position
  of that account in symbols quoted in that asset (cross margin is per asset).
- A *position* has a signed size (quantity units) and a signed entry cost (money: the sum
  of ``qty x price`` of the fills that opened it, so the entry price is cost / size).
  Reducing realizes ``exit value - proportional cost``; the cost left on the position
  absorbs the integer rounding, so a position's realized PnL over its life is exactly
  the sum of its exit notionals minus its entry notionals.
- An *isolated* position has its own margin, moved out of the wallet when it grows
  (``notional / leverage``, rounded up) and released back in proportion when it shrinks
  (rounded down; all of it when it closes), while the realized PnL goes to the wallet,
  so the part that stays open keeps its share of the margin. If the closed part lost
  more than its share, the margin absorbs the whole loss instead (the wallet is never
  charged for an isolated loss); a position closed below its bankruptcy price leaves a
  deficit the insurance fund pays. During a liquidation the realized PnL stays in the
  margin, which the liquidation settles (:meth:`Ledger.fill` with ``liquidation=True``,
  then :meth:`Ledger.settle_liquidation`).
- A *unit* of liquidation is an isolated position, or an account's cross positions in
  one asset taken together. It is crossed when maintenance margin >= margin balance at
  the mark prices, evaluated exactly (scaled by RATE_ONE, no rounding).

Detection index
---------------
Every unit with positions has one entry per position in that symbol's heap: longs in a
max-heap of the price at or below which they are crossed, shorts in a min-heap of the
price at or above which they are. A mark price ``m`` pops only the entries beyond ``m``,
so a tick costs O(1) when nothing is crossed and O(k log n) for k popped entries; the
popped units are then evaluated exactly.

- Isolated positions and single-position cross units get their exact liquidation price
  (:func:`sentinel.margin.threshold`): an entry pops if and only if the unit is crossed.
- A cross unit with positions in several symbols has headroom ``H = (margin balance -
  maintenance) x RATE_ONE > 0``. Each of its p positions gets ``(H - 1) // p`` of it and
  a band: the adverse price move that could at most consume that share (a long loses at
  most ``a*k`` per price unit; a short at most ``a*k*(1 + max mmr)``). While every mark
  stays inside its band the unit cannot be crossed; when one leaves, the entry pops, the
  unit is evaluated exactly, and it is either liquidated or given fresh bands. A
  multi-symbol unit may therefore be re-evaluated before it is crossed (a false alarm
  costs O(p log n)), never missed.
- Entries are invalidated, not removed: each carries the unit's stamp and a stale one is
  dropped when it surfaces; a heap is rebuilt when stale entries outnumber live ones.
- Everything that changes a unit's wallet or positions (fills, fees, funding, deposits,
  withdrawals) marks it dirty; the venue evaluates dirty units exactly after every
  command and re-indexes those that stay healthy. The index is derived state: it is not
  hashed and is rebuilt on restore.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from heapq import heapify, heappop, heappush

from sentinel.contracts import Contract
from sentinel.events import (
    BalanceChanged,
    BalanceReason,
    Emitter,
    FundChanged,
    FundingPaid,
    FundingSettled,
    FundReason,
    IsolatedMarginChanged,
    PositionChanged,
)
from sentinel.margin import bankruptcy, cross_bankruptcy, crossing, threshold
from sentinel.units import MONEY_ONE, RATE_ONE, ceil_div

FUND = 0  # the insurance fund's account id (users start at 1)
INTERNAL_ORDER_ID = 1 << 62  # order ids at or above this belong to Sentinel's own orders
ADL_SCORE_ONE = 10**18  # ADL scores are integers: LeveragePnL x 10**18, floored

UnitKey = tuple[int, str, str]  # (account, asset, symbol); symbol "" = the cross unit


class Position:
    """One account's position in one symbol (see the module docstring)."""

    __slots__ = ("account", "cost", "isolated", "margin", "size", "stamp", "symbol")

    def __init__(self, account: int, symbol: str, isolated: bool) -> None:
        self.account = account
        self.symbol = symbol
        self.size = 0
        self.cost = 0
        self.isolated = isolated
        self.margin = 0
        self.stamp = 0


class Exposure:
    """An account's open orders in one symbol, as margin sees them.

    ``buy_qty``/``buy_notional`` (and sell) sum the working limit orders that are not
    reduce-only (notional at each order's own price, Titan units); ``ro_buy``/``ro_sell``
    sum the open quantity of reduce-only orders, pending ones included.
    """

    __slots__ = ("buy_notional", "buy_qty", "ro_buy", "ro_sell", "sell_notional", "sell_qty")

    def __init__(self) -> None:
        self.buy_qty = 0
        self.buy_notional = 0
        self.sell_qty = 0
        self.sell_notional = 0
        self.ro_buy = 0
        self.ro_sell = 0

    def empty(self) -> bool:
        return not (self.buy_qty or self.sell_qty or self.ro_buy or self.ro_sell)


class OpenOrder:
    """Sentinel's mirror of one open Titan order."""

    __slots__ = ("account", "buy", "limit", "price", "qty", "reduce_only", "symbol", "working")

    def __init__(
        self,
        account: int,
        symbol: str,
        buy: bool,
        price: int,
        qty: int,
        reduce_only: bool,
        limit: bool,
        working: bool,
    ) -> None:
        self.account = account
        self.symbol = symbol
        self.buy = buy
        self.price = price
        self.qty = qty
        self.reduce_only = reduce_only
        self.limit = limit  # rests when it works (LIMIT, STOP, TAKE_PROFIT)
        self.working = working  # counted in the exposure (not a pending conditional)


class Wallet:
    """One account's money in one asset, and the positions and orders it backs.

    Kept small (there is one per account): positions live in the per-symbol holder
    index and are read through :attr:`positions`; the order exposure dict exists only
    while the account has open orders; leverage and margin-type settings are kept by
    the :class:`Ledger` only where they differ from the defaults.
    """

    __slots__ = ("_holders", "account", "asset", "balance", "exposure", "stamp")

    def __init__(
        self, account: int, asset: str, holders: list[tuple[str, dict[int, Position]]]
    ) -> None:
        self.account = account
        self.asset = asset
        self.balance = 0
        self.exposure: dict[str, Exposure] | None = None
        self.stamp = 0
        self._holders = holders  # shared: (symbol, holders) of every symbol of the asset

    @property
    def positions(self) -> dict[str, Position]:
        """This wallet's positions by symbol (in symbol order); a fresh dict."""
        account = self.account
        return {sym: h[account] for sym, h in self._holders if account in h}

    def position_list(self) -> list[Position]:
        """This wallet's positions in symbol order, without building a dict (hot path)."""
        account = self.account
        return [h[account] for _, h in self._holders if account in h]

    def exposed(self, symbol: str) -> Exposure | None:
        """The open-order exposure in ``symbol``, or None."""
        return self.exposure.get(symbol) if self.exposure is not None else None


class Ledger:
    """Clearing and margin for the configured contracts (see the module docstring)."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self.contracts: dict[str, Contract] = {}
        for c in contracts:
            if c.symbol in self.contracts:
                raise ValueError(f"symbol {c.symbol!r} configured twice")
            self.contracts[c.symbol] = c
        self.assets: list[str] = sorted({c.quote for c in self.contracts.values()})
        self.wallets: dict[tuple[int, str], Wallet] = {}
        self.holders: dict[str, dict[int, Position]] = {s: {} for s in self.contracts}
        self.open_qty: dict[str, int] = {s: 0 for s in self.contracts}  # sum of |size|
        self._asset_holders: dict[str, list[tuple[str, dict[int, Position]]]] = {
            a: [
                (s, self.holders[s]) for s in sorted(self.contracts) if self.contracts[s].quote == a
            ]
            for a in self.assets
        }
        # (account, symbol) -> (leverage, isolated), only where not the defaults
        self.account_settings: dict[tuple[int, str], tuple[int, bool]] = {}
        self._setting_values: dict[tuple[int, bool], tuple[int, bool]] = {}
        self.marks: dict[str, int] = {}
        self.funding_rate: dict[str, int] = {}
        self.next_funding: dict[str, int] = {}
        self.fees: dict[str, int] = {a: 0 for a in self.assets}
        self.net_deposits: dict[str, int] = {a: 0 for a in self.assets}
        self.orders: dict[int, OpenOrder] = {}
        self.next_order_id = INTERNAL_ORDER_ID
        self.dirty: dict[UnitKey, None] = {}  # insertion-ordered set
        self.touched: dict[tuple[int, str], None] = {}  # (account, symbol): for reduce-only
        self._longs: dict[str, list[tuple[int, int, str, str, int]]] = {
            s: [] for s in self.contracts
        }
        self._shorts: dict[str, list[tuple[int, int, str, str, int]]] = {
            s: [] for s in self.contracts
        }
        self._stamp = 0
        for asset in self.assets:
            self.wallet(FUND, asset)

    # -- lookups ------------------------------------------------------------------------

    def wallet(self, account: int, asset: str) -> Wallet:
        """The wallet of ``account`` in ``asset``, created empty on first use."""
        w = self.wallets.get((account, asset))
        if w is None:
            w = self.wallets[(account, asset)] = Wallet(account, asset, self._asset_holders[asset])
        return w

    def wallet_view(self, account: int, asset: str) -> Wallet:
        """The wallet of ``account`` in ``asset`` for reading: an empty one, not stored,
        if the account has none (reads never create state)."""
        w = self.wallets.get((account, asset))
        return w if w is not None else Wallet(account, asset, self._asset_holders[asset])

    def fund_balance(self, asset: str) -> int:
        """The insurance fund's balance in ``asset``."""
        return self.wallets[(FUND, asset)].balance

    def settings(self, w: Wallet, symbol: str) -> tuple[int, bool]:
        """(leverage, isolated) of ``w``'s account in ``symbol``."""
        s = self.account_settings.get((w.account, symbol))
        return s if s is not None else (self.contracts[symbol].default_leverage, False)

    def store_settings(self, account: int, symbol: str, leverage: int, isolated: bool) -> None:
        """Record (leverage, isolated) of ``account`` in ``symbol``; the defaults are not
        stored, and equal values share one tuple."""
        if (leverage, isolated) == (self.contracts[symbol].default_leverage, False):
            self.account_settings.pop((account, symbol), None)
        else:
            value = self._setting_values.setdefault((leverage, isolated), (leverage, isolated))
            self.account_settings[(account, symbol)] = value
        self.wallet(account, self.contracts[symbol].quote)

    def available_at_leverage(self, w: Wallet, symbol: str, leverage: int) -> int:
        """:meth:`available` of ``w`` were its leverage in ``symbol`` ``leverage`` (the
        settings are left as they were)."""
        old = self.settings(w, symbol)
        self.store_settings(w.account, symbol, leverage, old[1])
        available = self.available(w)
        self.store_settings(w.account, symbol, old[0], old[1])
        return available

    def new_order_id(self) -> int:
        """The id of Sentinel's next own order (liquidation or fund order), from
        :data:`INTERNAL_ORDER_ID` up; never reused."""
        oid = self.next_order_id
        self.next_order_id = oid + 1
        return oid

    def position(self, account: int, symbol: str) -> Position | None:
        """The open position of ``account`` in ``symbol``, or None."""
        return self.holders[symbol].get(account)

    def upnl(self, p: Position) -> int:
        """Unrealized PnL of ``p`` at the mark (money)."""
        return p.size * self.marks[p.symbol] * self.contracts[p.symbol].scale - p.cost

    def maintenance_scaled(self, p: Position) -> int:
        """Exact maintenance margin of ``p`` at the mark, times RATE_ONE."""
        c = self.contracts[p.symbol]
        return c.brackets.maintenance_margin_scaled(abs(p.size) * self.marks[p.symbol] * c.scale)

    def cross_positions(self, w: Wallet) -> list[Position]:
        """``w``'s open cross positions, by symbol."""
        return [p for p in w.position_list() if not p.isolated]

    def unit_positions(self, key: UnitKey) -> list[Position]:
        """The open positions of a unit, by symbol (empty if it has none)."""
        w = self.wallets.get((key[0], key[1]))
        if w is None:
            return []
        if key[2]:
            p = self.holders[key[2]].get(key[0])
            return [p] if p is not None and p.isolated and p.size else []
        return [p for p in self.cross_positions(w) if p.size]

    def unit_state(self, key: UnitKey, positions: list[Position] | None = None) -> tuple[int, int]:
        """(margin balance, maintenance margin x RATE_ONE) of a unit at the marks
        (``positions``: the unit's, when the caller has them already)."""
        w = self.wallets[(key[0], key[1])]
        if positions is None:
            positions = self.unit_positions(key)
        balance = positions[0].margin if key[2] and positions else w.balance
        mm = 0
        for p in positions:
            balance += self.upnl(p)
            mm += self.maintenance_scaled(p)
        return balance, mm

    def liquidation_price(self, p: Position) -> Fraction:
        """The mark price (Titan price units, exact) at which ``p`` is liquidated, with
        every other mark where it is now: Binance's formula (:mod:`sentinel.margin`),
        with W the isolated margin or the cross wallet and, for cross, the other cross
        positions' unrealized PnL (UPNL1) and maintenance (TMM1) at their marks. 0 for a
        long that no mark above zero liquidates, and for a flat position."""
        if not p.size:
            return Fraction(0)
        c = self.contracts[p.symbol]
        long = p.size > 0
        if p.isolated:
            base = Fraction(p.margin - p.cost)
        else:
            w = self.wallets[(p.account, c.quote)]
            others = [q for q in self.cross_positions(w) if q.size and q is not p]
            upnl = sum(self.upnl(q) for q in others)
            mm = sum(self.maintenance_scaled(q) for q in others)
            base = Fraction(w.balance - p.cost + upnl) - Fraction(mm, RATE_ONE)
        num, den, _ = crossing(
            long, Fraction(abs(p.size)), base, Fraction(c.scale), c.brackets.brackets
        )
        price = num / den
        return max(price, Fraction(0))

    def crossed(self, key: UnitKey) -> bool:
        """Whether the unit holds positions and maintenance >= margin balance (exact)."""
        if key[0] == FUND:
            return False
        positions = self.unit_positions(key)
        if not positions:
            return False
        balance, mm = self.unit_state(key, positions)
        return mm >= balance * RATE_ONE

    def units(self) -> Iterator[UnitKey]:
        """Every unit that holds positions (the fund excluded), in key order."""
        for (account, asset), w in sorted(self.wallets.items()):
            if account == FUND:
                continue
            positions = w.positions
            if any(not p.isolated for p in positions.values()):
                yield (account, asset, "")
            for symbol, p in positions.items():
                if p.isolated:
                    yield (account, asset, symbol)

    # -- margin requirements ------------------------------------------------------------

    def order_margin(self, w: Wallet, symbol: str, ex: Exposure | None = None) -> int:
        """Initial margin held by ``w``'s open orders in ``symbol`` (money, rounded up).

        Orders that would only reduce the position need none: with position size s, the
        first max(0, -s - reduce-only buys) of the buy quantity (and max(0, s - reduce-only
        sells) of the sells) is exempt, the rest is charged at its orders' average price.
        The larger side is charged, as both cannot fill to grow the position at once.
        """
        ex = ex if ex is not None else w.exposed(symbol)
        if ex is None:
            return 0
        return self.order_margin_of(
            w, symbol, ex.buy_qty, ex.buy_notional, ex.sell_qty, ex.sell_notional,
            ex.ro_buy, ex.ro_sell,
        )  # fmt: skip

    def order_margin_of(
        self,
        w: Wallet,
        symbol: str,
        buy_qty: int,
        buy_notional: int,
        sell_qty: int,
        sell_notional: int,
        ro_buy: int,
        ro_sell: int,
    ) -> int:
        """:meth:`order_margin` of an exposure given by its fields (no object built)."""
        p = self.holders[symbol].get(w.account)
        size = p.size if p is not None else 0
        worst = 0
        exempt = -size - ro_buy
        if exempt < 0:
            exempt = 0
        if buy_qty > exempt:
            worst = ceil_div(buy_notional * (buy_qty - exempt), buy_qty)
        exempt = size - ro_sell
        if exempt < 0:
            exempt = 0
        if sell_qty > exempt:
            worst = max(worst, ceil_div(sell_notional * (sell_qty - exempt), sell_qty))
        if not worst:
            return 0
        c = self.contracts[symbol]
        return ceil_div(worst * c.scale, self.settings(w, symbol)[0])

    def position_margin(self, w: Wallet, p: Position) -> int:
        """Initial margin of a cross position at the mark (money, rounded up)."""
        c = self.contracts[p.symbol]
        lev = self.settings(w, p.symbol)[0]
        return ceil_div(abs(p.size) * self.marks[p.symbol] * c.scale, lev)

    def available(self, w: Wallet, for_withdrawal: bool = False) -> int:
        """Balance free for new orders (or, ``for_withdrawal``, for withdrawal).

        wallet + cross unrealized PnL - cross position initial margin - open order
        initial margin; a withdrawal counts unrealized PnL only when it is a loss.
        """
        upnl = 0
        held = 0
        for p in w.position_list():
            if not p.isolated:
                upnl += self.upnl(p)
                held += self.position_margin(w, p)
        for symbol in w.exposure or ():
            held += self.order_margin(w, symbol)
        if for_withdrawal:
            upnl = min(upnl, 0)
        return w.balance + upnl - held

    # -- order mirror (fed from Titan's events) ----------------------------------------

    def exposure(self, w: Wallet, symbol: str) -> Exposure:
        if w.exposure is None:
            w.exposure = {}
        ex = w.exposure.get(symbol)
        if ex is None:
            ex = w.exposure[symbol] = Exposure()
        return ex

    def _count(self, o: OpenOrder, qty: int, price: int, sign: int) -> None:
        """Add (sign=1) or remove (sign=-1) ``qty`` of order ``o`` at ``price``. Orders
        that hold nothing (pending conditional, market) leave no exposure behind."""
        if not (o.reduce_only or (o.working and o.limit)):
            return
        w = self.wallet(o.account, self.contracts[o.symbol].quote)
        ex = self.exposure(w, o.symbol)
        if o.reduce_only:
            if o.buy:
                ex.ro_buy += sign * qty
            else:
                ex.ro_sell += sign * qty
        elif o.working and o.limit:
            if o.buy:
                ex.buy_qty += sign * qty
                ex.buy_notional += sign * qty * price
            else:
                ex.sell_qty += sign * qty
                ex.sell_notional += sign * qty * price
        if sign < 0 and ex.empty() and w.exposure is not None:
            del w.exposure[o.symbol]
            if not w.exposure:
                w.exposure = None

    def order_opened(self, order_id: int, o: OpenOrder) -> None:
        """An order was accepted (or restored)."""
        self.orders[order_id] = o
        self._count(o, o.qty, o.price, 1)

    def order_triggered(self, order_id: int) -> None:
        """A conditional order was released: a limit one now works (and may rest)."""
        o = self.orders.get(order_id)
        if o is not None and not o.working:
            self._count(o, o.qty, o.price, -1)
            o.working = True
            self._count(o, o.qty, o.price, 1)

    def order_reduced(self, order_id: int, qty: int) -> None:
        """``qty`` of an open order traded."""
        o = self.orders.get(order_id)
        if o is None:
            return
        self._count(o, qty, o.price, -1)
        o.qty -= qty
        if o.qty <= 0:
            del self.orders[order_id]

    def order_closed(self, order_id: int) -> None:
        """An order was cancelled or expired."""
        o = self.orders.pop(order_id, None)
        if o is not None:
            self._count(o, o.qty, o.price, -1)

    def order_amended(self, order_id: int, price: int, qty: int) -> None:
        """A resting order's price and open quantity changed."""
        o = self.orders.get(order_id)
        if o is not None:
            self._count(o, o.qty, o.price, -1)
            o.price, o.qty = price, qty
            self._count(o, o.qty, o.price, 1)

    def reduce_only_orders(self, account: int, symbol: str, buy: bool) -> list[int]:
        """Open reduce-only order ids of ``account`` in ``symbol`` on one side, newest
        (highest id) first."""
        return sorted(
            (
                oid
                for oid, o in self.orders.items()
                if o.account == account and o.symbol == symbol and o.reduce_only and o.buy == buy
            ),
            reverse=True,
        )

    # -- money movements -------------------------------------------------------------

    def _dirty_wallet(self, w: Wallet) -> None:
        if w.account != FUND:
            self.dirty[(w.account, w.asset, "")] = None

    def take_touched(self) -> list[tuple[int, str]]:
        """The (account, symbol) pairs whose positions changed since the last call, in
        order (their reduce-only orders may no longer fit); the set is emptied."""
        touched = sorted(self.touched)
        self.touched.clear()
        return touched

    def clean(self, key: UnitKey) -> bool:
        """Take ``key`` off the dirty set (the caller evaluates it now); whether it was
        on it."""
        if key not in self.dirty:
            return False
        del self.dirty[key]
        return True

    def credit(
        self,
        em: Emitter,
        w: Wallet,
        amount: int,
        reason: BalanceReason,
        symbol: str = "",
        ref: int = 0,
    ) -> None:
        """Move ``amount`` (signed) into ``w`` and report it (the fund as FundChanged)."""
        w.balance += amount
        if w.account == FUND:
            em.append(
                FundChanged(
                    em.seq, em.ts, w.asset, FundReason(reason.value), amount, w.balance, 0, symbol
                )
            )
        else:
            em.append(
                BalanceChanged(
                    em.seq, em.ts, w.account, w.asset, reason, amount, w.balance, symbol, ref
                )
            )
            self._dirty_wallet(w)

    def to_fund(
        self,
        em: Emitter,
        asset: str,
        amount: int,
        reason: FundReason,
        account: int = 0,
        symbol: str = "",
    ) -> None:
        """Move ``amount`` (signed) into the insurance fund of ``asset``."""
        w = self.wallets[(FUND, asset)]
        w.balance += amount
        em.append(FundChanged(em.seq, em.ts, asset, reason, amount, w.balance, account, symbol))

    def deposit(self, em: Emitter, account: int, asset: str, amount: int) -> None:
        """Credit an accepted deposit (``amount`` > 0); net deposits grow by as much."""
        self.net_deposits[asset] += amount
        self.credit(em, self.wallet(account, asset), amount, BalanceReason.DEPOSIT)

    def withdraw(self, em: Emitter, w: Wallet, amount: int) -> None:
        """Debit an accepted withdrawal (``amount`` > 0); net deposits shrink by as much."""
        self.net_deposits[w.asset] -= amount
        self.credit(em, w, -amount, BalanceReason.WITHDRAW)

    # -- clearing -------------------------------------------------------------------

    def fill(
        self,
        em: Emitter,
        account: int,
        symbol: str,
        dq: int,
        price: int,
        *,
        fee_rate: int,
        trade_id: int,
        liquidation: bool = False,
    ) -> None:
        """Apply a fill of signed quantity ``dq`` at ``price`` to ``account``'s position,
        charging ``fee_rate`` of the notional (rounded up), and report it.

        ``liquidation``: the position is being liquidated (its liquidation order's trades,
        the fund's takeover, ADL). Its realized PnL stays in an isolated position's margin,
        which :meth:`settle_liquidation` then settles; the fee-shortfall rule does not
        apply; and the position stays in place at size 0 until the venue ends its
        liquidation (:meth:`drop`).
        """
        c = self.contracts[symbol]
        k = c.scale
        w = self.wallet(account, c.quote)
        holders = self.holders[symbol]
        p = holders.get(account)
        if p is None:
            lev_iso = self.settings(w, symbol)
            p = Position(account, symbol, lev_iso[1])
            holders[account] = p
        lev = self.settings(w, symbol)[0]
        notional = abs(dq) * price * k
        fee = ceil_div(notional * fee_rate, RATE_ONE) if fee_rate else 0
        realized = 0
        to_margin = 0  # wallet -> isolated margin (negative: released)
        deficit = 0  # an isolated position closed below its bankruptcy price: the fund pays
        s = p.size
        self.open_qty[symbol] -= abs(s)
        pnl_to_wallet = 0
        if s == 0 or (s > 0) == (dq > 0):
            p.size = s + dq
            p.cost += dq * price * k
            if p.isolated:
                to_margin = ceil_div(notional, lev)
        else:
            a = abs(s)
            close = min(abs(dq), a)
            removed = p.cost if close == a else p.cost * close // a
            sign = 1 if s > 0 else -1
            realized = sign * close * price * k - removed
            pnl_to_wallet = realized
            p.cost -= removed
            p.size = s - sign * close
            if p.isolated:
                share = p.margin if p.size == 0 else p.margin * close // a
                if liquidation:  # the liquidation settles what is left of the margin
                    p.margin += realized
                    pnl_to_wallet = 0
                elif share + realized >= 0:  # the closed share comes back, PnL to the wallet
                    to_margin = -share
                else:  # the closed part lost more than its share: the margin absorbs it
                    p.margin += realized
                    pnl_to_wallet = 0
                    if p.size == 0 and p.margin < 0:  # closed below bankruptcy
                        deficit = -p.margin
                        p.margin = 0
            rest = abs(dq) - close
            if rest:
                p.size = -sign * rest
                p.cost = -sign * rest * price * k
                if p.isolated:
                    to_margin += ceil_div(rest * price * k, lev)
        fee_from_margin = 0
        if p.isolated and not liquidation and account != FUND:
            # An isolated position never puts the wallet in debt: its initial margin is
            # locked only as far as the wallet has it, and a fee the wallet cannot pay
            # comes out of the isolated margin (either may leave the position thinly
            # margined, and so liquidated when the command settles).
            short = -(w.balance + pnl_to_wallet - fee - to_margin)
            if short > 0 and to_margin > 0:
                cut = min(to_margin, short)
                to_margin -= cut
                short -= cut
            if short > 0:
                fee_from_margin = min(fee, short)
        p.margin += to_margin - fee_from_margin
        self.open_qty[symbol] += abs(p.size)
        if fee:
            self.fees[c.quote] += fee
        seq, ts, emit = em.seq, em.ts, em.append
        emit(
            PositionChanged(
                seq,
                ts,
                account,
                symbol,
                trade_id,
                dq,
                price,
                p.size,
                p.cost,
                realized,
                fee,
                p.margin + fee_from_margin,  # the fee shortfall follows as its own event
            )
        )
        if account == FUND:
            if realized - fee:
                w.balance += realized - fee
                emit(
                    FundChanged(
                        seq,
                        ts,
                        c.quote,
                        FundReason.REALIZED_PNL,
                        realized - fee,
                        w.balance,
                        0,
                        symbol,
                    )  # fmt: skip
                )
        else:
            if deficit:
                self.to_fund(em, c.quote, -deficit, FundReason.ISOLATED_DEFICIT, account, symbol)
            if fee_from_margin:
                emit(
                    IsolatedMarginChanged(
                        seq, ts, account, symbol, BalanceReason.FEE, -fee_from_margin, p.margin
                    )
                )
            moves = (
                (BalanceReason.REALIZED_PNL, pnl_to_wallet),
                (BalanceReason.FEE, fee_from_margin - fee),
                (BalanceReason.ISOLATED_MARGIN, -to_margin),
            )
            for reason, amount in moves:
                if amount:
                    w.balance += amount
                    emit(
                        BalanceChanged(
                            seq, ts, account, c.quote, reason, amount, w.balance, symbol, trade_id
                        )
                    )
            self._dirty_wallet(w)
            if p.isolated:
                self.dirty[(account, c.quote, symbol)] = None
            self.touched[(account, symbol)] = None
        if p.size == 0 and not liquidation:
            self.drop(p)

    def drop(self, p: Position) -> None:
        """Remove a closed position (its isolated margin must already be settled)."""
        del self.holders[p.symbol][p.account]

    def transfer(self, em: Emitter, p: Position, to: int, qty: int, price: int) -> None:
        """Move ``qty`` of the liquidated position ``p`` to account ``to`` at ``price``
        (the fund's takeover, or ADL against ``to``): two fills of opposite sign, with no
        fee and no trade id; ``p``'s is a liquidation fill, the receiver's an ordinary one."""
        dq = qty if p.size > 0 else -qty
        self.fill(em, p.account, p.symbol, -dq, price, fee_rate=0, trade_id=0, liquidation=True)
        self.fill(em, to, p.symbol, dq, price, fee_rate=0, trade_id=0)

    def settle_liquidation(self, em: Emitter, key: UnitKey, fee_due: int) -> tuple[int, int]:
        """Hand the margin left in a liquidated unit to the fund: ``(fee, remainder)``.

        Called once every position of the unit is closed (an isolated one still in
        place at size 0, which is then removed). The margin left (an isolated position's
        margin, or the whole cross wallet) leaves the unit; the fund receives first the
        clearance fee, ``fee_due`` capped at what is left (never below 0), then the
        remainder: a surplus, or a deficit (negative) the fund pays.
        """
        account, asset, symbol = key
        if symbol:
            p = self.holders[symbol][account]
            left = p.margin
            p.margin = 0
            self.drop(p)
            em.append(
                IsolatedMarginChanged(
                    em.seq, em.ts, account, symbol, BalanceReason.LIQUIDATION, -left, 0
                )
            )
        else:
            w = self.wallets[(account, asset)]
            left = w.balance
            if left:
                self.credit(em, w, -left, BalanceReason.LIQUIDATION)
        fee = min(fee_due, max(left, 0))
        if fee:
            self.to_fund(em, asset, fee, FundReason.LIQUIDATION_FEE, account, symbol)
        rest = left - fee
        if rest:
            reason = FundReason.LIQUIDATION_SURPLUS if rest > 0 else FundReason.LIQUIDATION_DEFICIT
            self.to_fund(em, asset, rest, reason, account, symbol)
        return fee, rest

    # -- funding ----------------------------------------------------------------------

    def set_mark(self, symbol: str, price: int, funding_rate: int) -> None:
        """An accepted mark price of ``symbol`` and the funding rate that comes with it:
        margin is valued at this mark from now on, and the next funding settlement uses
        this rate unless another mark replaces it first."""
        self.marks[symbol] = price
        self.funding_rate[symbol] = funding_rate

    def advance_funding(self, em: Emitter, symbol: str) -> None:
        """At a mark price of ``symbol`` (at ``em.ts``): settle funding if the funding time
        has been reached (:meth:`settle_funding`; once, however many intervals passed),
        and schedule the next funding time, the first multiple of the contract's
        interval after ``em.ts``. The first mark of a symbol only schedules."""
        ts = em.ts
        due = self.next_funding.get(symbol)
        if due is not None and ts >= due:
            self.settle_funding(em, symbol)
        if due is None or ts >= due:
            interval = self.contracts[symbol].funding_interval
            self.next_funding[symbol] = (ts // interval + 1) * interval

    def settle_funding(self, em: Emitter, symbol: str) -> None:
        """Exchange funding between longs and shorts of ``symbol`` at the mark and the
        last supplied rate. Payers' amounts round up, receivers' down; the difference
        goes to the insurance fund, so the exchange is exactly conserving."""
        seq, ts = em.seq, em.ts
        rate = self.funding_rate.get(symbol, 0)
        mark = self.marks[symbol]
        c = self.contracts[symbol]
        holders = self.holders[symbol]
        paid = received = 0
        count = 0
        for account in sorted(holders):
            p = holders[account]
            if not p.size:
                continue
            count += 1
            exact = p.size * mark * c.scale * rate  # > 0: this position pays
            amount = -ceil_div(exact, RATE_ONE) if exact > 0 else (-exact) // RATE_ONE
            if amount < 0:
                paid -= amount
            else:
                received += amount
            w = self.wallet(account, c.quote)
            em.append(FundingPaid(seq, ts, account, symbol, amount))
            if not amount:
                continue
            if p.isolated and account != FUND:
                p.margin += amount
                em.append(
                    IsolatedMarginChanged(
                        seq, ts, account, symbol, BalanceReason.FUNDING, amount, p.margin
                    )
                )
                self.dirty[(account, c.quote, symbol)] = None
            else:
                self.credit(em, w, amount, BalanceReason.FUNDING, symbol)
        if paid != received:
            self.to_fund(em, c.quote, paid - received, FundReason.FUNDING_ROUNDING, 0, symbol)
        em.append(FundingSettled(seq, ts, symbol, mark, rate, count, paid, received))

    # -- liquidation index --------------------------------------------------------------

    def reindex(self, key: UnitKey) -> None:
        """(Re)place a unit's entries in the detection index (see the module docstring)."""
        account, asset, symbol = key
        w = self.wallets.get((account, asset))
        if w is None or account == FUND:
            return
        self._stamp += 1
        stamp = self._stamp
        if symbol:
            p = self.holders[symbol].get(account)
            if p is None or not p.isolated or not p.size:
                return
            p.stamp = stamp
            self._push(p, p.margin - p.cost, key, stamp)
            return
        w.stamp = stamp
        positions = [p for p in w.position_list() if not p.isolated and p.size]
        if len(positions) == 1:
            p = positions[0]
            self._push(p, w.balance - p.cost, key, stamp)
            return
        if not positions:
            return
        balance, mm = self.unit_state(key, positions)
        share = max(balance * RATE_ONE - mm - 1, 0) // len(positions)
        for p in positions:
            c = self.contracts[p.symbol]
            m = self.marks[p.symbol]
            a = abs(p.size)
            if p.size > 0:
                t = m - share // (a * c.scale * RATE_ONE) - 1
                heappush(self._longs[p.symbol], (-t, account, asset, "", stamp))
            else:
                t = m + share // (a * c.scale * (RATE_ONE + c.brackets.max_mmr)) + 1
                heappush(self._shorts[p.symbol], (t, account, asset, "", stamp))
            self._compact(p.symbol)

    def _push(self, p: Position, base: int, key: UnitKey, stamp: int) -> None:
        c = self.contracts[p.symbol]
        long = p.size > 0
        t = threshold(long, abs(p.size), base, c.scale, c.brackets.brackets)
        if long:
            heappush(self._longs[p.symbol], (-t, key[0], key[1], key[2], stamp))
        else:
            heappush(self._shorts[p.symbol], (t, key[0], key[1], key[2], stamp))
        self._compact(p.symbol)

    def _live(self, entry: tuple[int, int, str, str, int]) -> bool:
        _, account, asset, symbol, stamp = entry
        w = self.wallets.get((account, asset))
        if w is None:
            return False
        if symbol:
            p = self.holders[symbol].get(account)
            return p is not None and p.stamp == stamp
        return w.stamp == stamp

    def _compact(self, symbol: str) -> None:
        """Drop stale entries once they outnumber the live ones (amortized O(1))."""
        limit = 2 * len(self.holders[symbol]) + 64
        for heap in (self._longs[symbol], self._shorts[symbol]):
            if len(heap) > limit:
                heap[:] = [e for e in heap if self._live(e)]
                heapify(heap)

    def pop_crossed(self, symbol: str, mark: int) -> list[UnitKey]:
        """Units whose entries in ``symbol`` lie at or beyond ``mark`` (each once, in
        pop order); their entries are consumed. The caller evaluates them exactly."""
        found: dict[UnitKey, None] = {}
        longs = self._longs[symbol]
        while longs and -longs[0][0] >= mark:
            e = heappop(longs)
            if self._live(e):
                found[(e[1], e[2], e[3])] = None
        shorts = self._shorts[symbol]
        while shorts and shorts[0][0] <= mark:
            e = heappop(shorts)
            if self._live(e):
                found[(e[1], e[2], e[3])] = None
        return list(found)

    def flag_crossed(self, symbol: str, mark: int) -> None:
        """At a mark price: the units whose entries in ``symbol`` it passed become dirty,
        to be evaluated exactly when the command settles."""
        dirty = self.dirty
        for key in self.pop_crossed(symbol, mark):
            dirty[key] = None

    def index_entries(self, symbol: str) -> list[tuple[bool, int, UnitKey]]:
        """Live entries of ``symbol``: (is long, trigger price, unit), for checks."""
        out = [(True, -e[0], (e[1], e[2], e[3])) for e in self._longs[symbol] if self._live(e)]
        out += [(False, e[0], (e[1], e[2], e[3])) for e in self._shorts[symbol] if self._live(e)]
        return out

    # -- liquidation helpers ------------------------------------------------------------

    def bankruptcy_price(self, key: UnitKey, p: Position) -> int:
        """The bankruptcy price of ``p`` in its unit, on the tick grid in the account's
        favour (a long sells at or above it, a short buys at or below it).

        Isolated: where the position's margin balance is zero. Cross: where its share of
        the unit's margin balance, by notional at the mark among the unit's positions
        still open, is used up (:func:`sentinel.margin.cross_bankruptcy`); the whole
        balance never lands on the position closed first. Where no such price of at
        least one tick exists (a short's share of a deficit is more than its notional),
        the mark instead: what the position cannot carry stays in the wallet, for the
        positions closed after it or, at the end, the fund."""
        c = self.contracts[p.symbol]
        long = p.size > 0
        if key[2]:
            num, den = bankruptcy(long, abs(p.size), p.margin - p.cost, c.scale)
        else:
            equity = self.wallets[(key[0], key[1])].balance
            notional = 0
            for q in self.unit_positions(key):
                equity += self.upnl(q)
                notional += abs(q.size) * self.marks[q.symbol] * self.contracts[q.symbol].scale
            num, den = cross_bankruptcy(long, self.marks[p.symbol], equity, notional)
        tick = c.spec.tick
        if long:
            price = ceil_div(ceil_div(num, den), tick) * tick
        else:
            price = (num // den) // tick * tick
        if price < tick:
            mark = self.marks[p.symbol]
            price = max(ceil_div(mark, tick) * tick if long else mark // tick * tick, tick)
        return price

    def fund_capacity(self, asset: str, symbol: str, long: bool, price: int, qty: int) -> int:
        """How much of ``qty`` the fund can take over at ``price`` (on the lot grid).

        Taking a long at a price above the mark (or a short below it) is an immediate
        loss; the fund takes only what its equity (balance + unrealized PnL) covers.
        """
        c = self.contracts[symbol]
        loss_per_unit = (
            (price - self.marks[symbol]) if long else (self.marks[symbol] - price)
        ) * c.scale
        if loss_per_unit <= 0:
            return qty
        w = self.wallets[(FUND, asset)]
        equity = w.balance + sum(self.upnl(p) for p in w.positions.values())
        if equity <= 0:
            return 0
        lot = c.spec.lot
        return min(qty, equity // (loss_per_unit * lot) * lot)

    def adl_queue(self, symbol: str, long_side: bool, exclude: int) -> list[Position]:
        """Positions on ``long_side`` of ``symbol`` in ADL order (Binance's LeveragePnL):
        PnL% = max(0, upnl) / max(1, wallet), times margin ratio = maintenance / margin
        balance (0 when the balance is not positive); highest first, then account id.
        Wallet, upnl and maintenance are the unit's (an isolated position's own, or the
        account's cross totals). The fund is never in the queue. Scores are integers
        (LeveragePnL x 10**18, floored): closer scores tie and go by account id. Cost:
        O(n) over the symbol's holders per deleveraged position (ADL is the last resort;
        Binance keeps a precomputed queue, this recomputes it at the current marks)."""
        ranked: list[tuple[int, int, Position]] = []
        for account, p in self.holders[symbol].items():
            if account in (exclude, FUND) or not p.size or (p.size > 0) != long_side:
                continue
            asset = self.contracts[symbol].quote
            key: UnitKey = (account, asset, symbol if p.isolated else "")
            balance, mm_scaled = self.unit_state(key)
            positions = self.unit_positions(key)
            wallet = positions[0].margin if p.isolated else self.wallets[(account, asset)].balance
            upnl = sum(self.upnl(q) for q in positions)
            if balance <= 0 or upnl <= 0:
                score = 0
            else:
                score = (upnl * mm_scaled * ADL_SCORE_ONE) // (
                    max(MONEY_ONE, wallet) * balance * RATE_ONE
                )
            ranked.append((score, account, p))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        return [r[2] for r in ranked]
