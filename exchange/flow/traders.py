"""The seeded order flow that keeps the platform alive: market makers, takers, the demo.

A :class:`Traders` instance is a *client* of the exchange: it sends inputs and learns
what happened only from durable records (:meth:`Traders.on_committed`, subscribed to the
sequencer), like a trading firm reading its execution reports. It never reads engine
state, except once at start-up to pick up where a resumed journal left it.

Rules
-----
- Accounts: ``makers`` market makers (accounts 1, 2, ...) and ``takers`` takers
  (accounts 101, 102, ...) get their deposits when they hold less than half of it. With
  ``demo`` on a fresh journal, accounts 1001, 1002 and 1003 deposit 10,000 USDT, set
  BTCUSDT to 10x isolated and each buy 0.5 BTC at market from the makers' asks as soon
  as the asks hold enough (what a buy did not get is bought again, at most
  :data:`DEMO_TRIES` times): a fall of about 10% liquidates them, as in the original demo.
- Market makers quote ``levels`` prices per side around the last durable mark price of
  every symbol, ``spacing_bps`` apart (half a spacing from the mark at the nearest),
  each worth about ``level_notional`` of the quote; they cancel quotes that the mark
  moved through or left far behind and fill the gaps; self-trades are prevented with
  EXPIRE_TAKER.
- With what is left of the budget: takers send market or IOC orders (a taker whose
  position exceeds ``taker_max_notional`` trades to reduce it; a taker sends nothing
  the makers' durable quotes, less what takers have in flight, could not fill), makers
  cancel or amend random quotes (a smaller quantity keeps priority; a new price within
  the ladder does not).
- Nothing is sent twice: an order, cancel or amend in flight (sent, not yet durable)
  blocks another for the same price level or order. An input the sequencer refused is
  handed back with :meth:`Traders.refused` and forgotten.
- Every draw comes from ``random.Random(seed)``; prices and quantities are integers on
  the symbol's grids, within its price band and above its minimum notional.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from exchange.runtime.sequencer import Committed
from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType
from sentinel.contracts import Contract
from sentinel.units import MONEY_ONE
from titan.commands import Amend, Cancel, NewOrder
from titan.enums import OrderType, Side, StpMode, TimeInForce
from titan.events import Accepted, Amended, Cancelled, Expired, Trade
from venue.types import Command
from venue.venue import Venue

BUY, SELL = Side.BUY, Side.SELL
DEMO_ACCOUNTS = (1001, 1002, 1003)
MAKER_BASE, TAKER_BASE = 1, 101
DEMO_TRIES = 5  # market buys per demo account before it gives up (e.g. refused)


@dataclass(frozen=True)
class FlowSettings:
    """What the generated order flow looks like (amounts in the quote asset)."""

    rate: float = 300.0  # inputs per second; 0 = as fast as the intake takes them
    seed: int = 1
    makers: int = 2
    takers: int = 8
    levels: int = 5
    spacing_bps: float = 5.0
    level_notional: int = 50_000
    maker_deposit: int = 50_000_000
    taker_deposit: int = 1_000_000
    taker_notional: int = 10_000
    taker_max_notional: int = 200_000
    demo: bool = True
    demo_symbol: str = "BTCUSDT"
    demo_deposit: int = 10_000
    demo_qty_lots: int = 500  # 0.5 BTC at a 0.001 lot
    demo_leverage: int = 10


class _Order:
    __slots__ = ("account", "price", "qty", "side", "symbol")

    def __init__(self, account: int, symbol: str, side: Side, price: int, qty: int) -> None:
        self.account = account
        self.symbol = symbol
        self.side = side
        self.price = price
        self.qty = qty


class Traders:
    """The generated clients (see the module rules)."""

    def __init__(self, contracts: Iterable[Contract], settings: FlowSettings) -> None:
        self.contracts = {c.spec.symbol: c for c in contracts}
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.makers = [MAKER_BASE + i for i in range(settings.makers)]
        self._maker_set = frozenset(self.makers)
        self.takers = [TAKER_BASE + i for i in range(settings.takers)]
        demo_ok = settings.demo and settings.demo_symbol in self.contracts
        self.demo_accounts = list(DEMO_ACCOUNTS) if demo_ok else []
        self.accounts = frozenset(self.makers + self.takers + self.demo_accounts)
        self.marks: dict[str, int] = {}
        self.orders: dict[int, _Order] = {}  # my resting orders by order id
        self.positions: dict[tuple[int, str], int] = {}  # signed lots
        self._pending_new: dict[str, tuple[int, str, Side, int]] = {}  # cid -> level
        self._pending_cancel: set[int] = set()
        self._pending_amend: set[int] = set()
        #: taker orders in flight: client id -> (symbol, side, qty), and their sum per side
        self._taking: dict[str, tuple[str, Side, int]] = {}
        self._taking_qty: dict[tuple[str, Side], int] = {}
        self._cid = 0
        self._cid_prefix = "g"
        #: demo lots still to buy per account, and the accounts with a buy in flight
        self.demo_todo = {a: settings.demo_qty_lots for a in self.demo_accounts}
        self._demo_inflight: set[int] = set()
        self._demo_tries: dict[int, int] = {}

    # -- start-up ---------------------------------------------------------------------

    def bootstrap(self, venue: Venue, start_seq: int) -> list[Command]:
        """Inputs that prepare the accounts; picks up resting orders of a resumed venue.

        ``start_seq`` is the journal's last seq (0: a fresh journal); client order ids of
        this run are prefixed with it, so they never repeat those of an earlier run.
        """
        s = self.settings
        fresh = start_seq == 0
        self._cid_prefix = f"g{start_seq}-"
        out: list[Command] = []
        for symbol in self.contracts:
            mark = venue.titan.mark_price(symbol)
            if mark:
                self.marks[symbol] = mark
        for account in sorted(self.accounts):
            for symbol in self.contracts:
                for view in venue.titan.open_orders(account, symbol):
                    self.orders[view.order_id] = _Order(
                        account, symbol, view.side, view.price, view.qty
                    )
                pos = venue.ledger.position(account, symbol)
                if pos is not None and pos.size:
                    self.positions[(account, symbol)] = pos.size
        quotes = sorted({c.quote for c in self.contracts.values()})
        targets = [(a, s.maker_deposit) for a in self.makers]
        targets += [(a, s.taker_deposit) for a in self.takers]
        if fresh:
            targets += [(a, s.demo_deposit) for a in self.demo_accounts]
        for account, amount in targets:
            for asset in quotes:
                have = venue.ledger.wallets.get((account, asset))
                balance = have.balance if have is not None else 0
                if balance * 2 < amount * MONEY_ONE:
                    out.append(Deposit(0, 0, account, asset, amount * MONEY_ONE - balance))
        if fresh and self.demo_accounts:
            for account in self.demo_accounts:
                out.append(SetLeverage(0, 0, account, s.demo_symbol, s.demo_leverage))
                out.append(SetMarginType(0, 0, account, s.demo_symbol, True))
        else:
            self.demo_todo.clear()
        return out

    # -- what the exchange reported -----------------------------------------------------

    def on_committed(self, batch: list[Committed]) -> None:
        """Learn from durable records: marks, my orders, my positions, my requests."""
        mine = self.accounts
        orders = self.orders
        for rec in batch:
            cmd = rec.command
            if type(cmd) is MarkPrice:
                self.marks[cmd.symbol] = cmd.price
            elif type(cmd) is NewOrder:
                if cmd.account in mine and cmd.client_order_id:
                    self._pending_new.pop(cmd.client_order_id, None)
                    self._taken(cmd.client_order_id)
                    self._demo_inflight.discard(cmd.account)
            elif type(cmd) is Cancel:
                self._pending_cancel.discard(cmd.order_id)
            elif type(cmd) is Amend:
                self._pending_amend.discard(cmd.order_id)
            for ev in rec.events:
                if type(ev) is Trade:
                    self._trade(ev)
                elif type(ev) is Accepted:
                    if (
                        ev.account in mine
                        and ev.type in (OrderType.LIMIT, "LIMIT")
                        and ev.tif in (TimeInForce.GTC, TimeInForce.GTX, "GTC", "GTX")
                    ):
                        orders[ev.order_id] = _Order(
                            ev.account, ev.symbol, Side(ev.side), ev.price, ev.qty
                        )
                elif type(ev) is Cancelled or type(ev) is Expired:
                    orders.pop(ev.order_id, None)
                elif type(ev) is Amended:
                    o = orders.get(ev.order_id)
                    if o is not None:
                        o.price, o.qty = ev.price, ev.qty

    def _trade(self, ev: Trade) -> None:
        buy = ev.aggressor in (BUY, "BUY")
        for account, order_id, remaining, sign in (
            (ev.taker_account, ev.taker_order_id, ev.taker_remaining, 1 if buy else -1),
            (ev.maker_account, ev.maker_order_id, ev.maker_remaining, -1 if buy else 1),
        ):
            if account not in self.accounts:
                continue
            key = (account, ev.symbol)
            self.positions[key] = self.positions.get(key, 0) + sign * ev.qty
            todo = self.demo_todo.get(account)
            if todo is not None and order_id == ev.taker_order_id and buy:
                if todo > ev.qty:
                    self.demo_todo[account] = todo - ev.qty
                else:
                    del self.demo_todo[account]
            o = self.orders.get(order_id)
            if o is not None:
                if remaining:
                    o.qty = remaining
                else:
                    del self.orders[order_id]

    def _taken(self, cid: str) -> None:
        taking = self._taking.pop(cid, None)
        if taking is not None:
            key = (taking[0], taking[1])
            self._taking_qty[key] -= taking[2]

    def refused(self, cmd: Command) -> None:
        """The sequencer did not take ``cmd``: forget that it is in flight."""
        if type(cmd) is NewOrder:
            self._pending_new.pop(cmd.client_order_id, None)
            self._taken(cmd.client_order_id)
            self._demo_inflight.discard(cmd.account)
        elif type(cmd) is Cancel:
            self._pending_cancel.discard(cmd.order_id)
        elif type(cmd) is Amend:
            self._pending_amend.discard(cmd.order_id)

    # -- what to send next --------------------------------------------------------------

    def next_inputs(self, budget: int) -> list[Command]:
        """Up to ``budget`` inputs: the demo buys, ladder upkeep, then random activity."""
        out = self.upkeep(budget)
        if len(out) >= budget or self._demo_waiting():
            return out  # takers wait until the demo longs are in, or they'd eat the asks
        rng = self.rng
        while len(out) < budget and self.marks:
            roll = rng.random()
            if roll < 0.6 and self.takers:
                cmd = self._taker_order()
            elif roll < 0.85:
                cmd = self._amend()
            else:
                cmd = self._cancel()
            if cmd is None:
                break  # nothing sensible to send now: the book needs its quotes first
            out.append(cmd)
        return out

    def upkeep(self, budget: int) -> list[Command]:
        """Up to ``budget`` inputs that keep the demo and the makers' ladders going."""
        out: list[Command] = []
        if budget <= 0:
            return out
        if self.demo_todo and self._ladder_ready(self.settings.demo_symbol):
            out += self._demo_orders()
        for symbol in self.contracts:
            if symbol not in self.marks:
                continue
            for maker in self.makers:
                self._upkeep(maker, symbol, out, budget)
                if len(out) >= budget:
                    return out
        return out

    def _next_cid(self) -> str:
        self._cid += 1
        return f"{self._cid_prefix}{self._cid}"

    def _demo_waiting(self) -> bool:
        return any(self._demo_tries.get(a, 0) < DEMO_TRIES for a in self.demo_todo)

    def _ladder_ready(self, symbol: str) -> bool:
        if symbol not in self.marks:
            return False
        asks = sum(o.qty for o in self.orders.values() if o.symbol == symbol and o.side is SELL)
        return asks >= sum(self.demo_todo.values())

    def _demo_orders(self) -> list[Command]:
        """A market buy of what each demo account still lacks (again if one came short)."""
        out: list[Command] = []
        for account, lots in self.demo_todo.items():
            if account in self._demo_inflight or self._demo_tries.get(account, 0) >= DEMO_TRIES:
                continue
            self._demo_inflight.add(account)
            self._demo_tries[account] = self._demo_tries.get(account, 0) + 1
            out.append(
                NewOrder(
                    0, 0, self.settings.demo_symbol, account, 0, BUY, lots,
                    type=OrderType.MARKET, tif=TimeInForce.IOC, client_order_id=self._next_cid(),
                )
            )  # fmt: skip
        return out

    def _ladder(self, maker: int, symbol: str, side: Side) -> list[int]:
        """The maker's target prices on ``side``, nearest the mark first."""
        spec = self.contracts[symbol].spec
        mark, tick = self.marks[symbol], spec.tick
        offset = (maker - MAKER_BASE) * 0.25
        prices = []
        for k in range(self.settings.levels):
            frac = self.settings.spacing_bps * (k + 0.5 + offset) / 10_000
            if side is BUY:
                price = int(mark * (1 - frac)) // tick * tick
                price = min(price, mark - tick)
            else:
                price = -(-int(mark * (1 + frac)) // tick) * tick
                price = max(price, mark + tick)
            prices.append(max(tick, price))
        return prices

    def _upkeep(self, maker: int, symbol: str, out: list[Command], budget: int) -> None:
        """Cancel the maker's quotes the mark moved through or left far behind (both
        sides first, so a new quote never meets a stale one of its own), then fill the
        ladder's gaps."""
        mark = self.marks[symbol]
        ladders = {side: self._ladder(maker, symbol, side) for side in (BUY, SELL)}
        held: dict[Side, set[int]] = {BUY: set(), SELL: set()}
        for oid, o in list(self.orders.items()):
            if o.account != maker or o.symbol != symbol or oid in self._pending_cancel:
                continue
            far = ladders[o.side][-1]
            if o.side is BUY:
                stale = o.price >= mark or o.price < far - 2 * (mark - far)
            else:
                stale = o.price <= mark or o.price > far + 2 * (far - mark)
            if not stale:
                held[o.side].add(o.price)
            elif len(out) < budget:
                self._pending_cancel.add(oid)
                out.append(Cancel(0, 0, symbol, maker, oid))
            else:
                return
        for acct, sym, side, price in self._pending_new.values():
            if acct == maker and sym == symbol:
                held[side].add(price)
        for side in (BUY, SELL):
            for price in ladders[side]:
                if price in held[side]:
                    continue
                if len(out) >= budget:
                    return
                qty = self._lots(symbol, price, self.settings.level_notional, 0.5, 1.5)
                cid = self._next_cid()
                self._pending_new[cid] = (maker, symbol, side, price)
                out.append(
                    NewOrder(
                        0, 0, symbol, maker, 0, side, qty, price,
                        tif=TimeInForce.GTC, client_order_id=cid, stp=StpMode.EXPIRE_TAKER,
                    )
                )  # fmt: skip

    def _lots(self, symbol: str, price: int, notional: int, lo: float, hi: float) -> int:
        spec = self.contracts[symbol].spec
        scale = 10 ** (spec.price_decimals + spec.qty_decimals)
        raw = notional * self.rng.uniform(lo, hi) * scale / price
        lots = max(1, int(raw) // spec.lot)
        qty = lots * spec.lot
        while spec.min_notional and price * qty < spec.min_notional:
            qty += spec.lot
        if spec.max_qty:
            qty = min(qty, spec.max_qty // spec.lot * spec.lot)
        return qty

    def _taker_order(self) -> Command | None:
        rng, s = self.rng, self.settings
        account = rng.choice(self.takers)
        symbol = rng.choice(sorted(self.marks))
        spec = self.contracts[symbol].spec
        mark = self.marks[symbol]
        pos = self.positions.get((account, symbol), 0)
        scale = 10 ** (spec.price_decimals + spec.qty_decimals)
        exposure = abs(pos) * mark // scale
        if exposure > s.taker_max_notional:
            side = SELL if pos > 0 else BUY
        else:
            side = BUY if rng.random() < 0.5 else SELL
        qty = self._lots(symbol, mark, s.taker_notional, 0.2, 2.0)
        # takers trade against what the makers show: no order into a book already taken
        opposite = SELL if side is BUY else BUY
        resting = sum(
            o.qty
            for o in self.orders.values()
            if o.symbol == symbol and o.side is opposite and o.account in self._maker_set
        )
        if qty > resting - self._taking_qty.get((symbol, side), 0):
            return None
        cid = self._next_cid()
        self._taking[cid] = (symbol, side, qty)
        self._taking_qty[(symbol, side)] = self._taking_qty.get((symbol, side), 0) + qty
        if rng.random() < 0.6:
            return NewOrder(
                0, 0, symbol, account, 0, side, qty, type=OrderType.MARKET,
                tif=TimeInForce.IOC, client_order_id=cid,
            )  # fmt: skip
        through = s.spacing_bps * 2 / 10_000
        tick = spec.tick
        if side is BUY:
            price = -(-int(mark * (1 + through)) // tick) * tick
        else:
            price = max(tick, int(mark * (1 - through)) // tick * tick)
        return NewOrder(
            0, 0, symbol, account, 0, side, qty, price, tif=TimeInForce.IOC, client_order_id=cid
        )

    def _pick_quote(self) -> tuple[int, _Order] | None:
        busy = self._pending_cancel | self._pending_amend
        choices = [oid for oid in self.orders if oid not in busy]
        if not choices:
            return None
        oid = self.rng.choice(choices)
        return oid, self.orders[oid]

    def _cancel(self) -> Command | None:
        picked = self._pick_quote()
        if picked is None:
            return None
        oid, o = picked
        self._pending_cancel.add(oid)
        return Cancel(0, 0, o.symbol, o.account, oid)

    def _amend(self) -> Command | None:
        picked = self._pick_quote()
        if picked is None:
            return None
        oid, o = picked
        spec = self.contracts[o.symbol].spec
        mark = self.marks.get(o.symbol)
        if mark is None:
            return None
        price, qty = o.price, o.qty
        if qty > spec.lot and self.rng.random() < 0.5:
            qty -= spec.lot * self.rng.randint(1, max(1, (qty // spec.lot) // 2))
        else:
            step = spec.tick * self.rng.randint(1, 5)
            price = price - step if o.side is BUY else price + step
        if spec.min_notional and price * qty < spec.min_notional:
            return None
        if (price, qty) == (o.price, o.qty) or price <= 0:
            return None
        self._pending_amend.add(oid)
        return Amend(0, 0, o.symbol, o.account, oid, price, qty)
