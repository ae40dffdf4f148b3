"""The API's accounts as Binance reports them: orders, trades and income, from durable records.

Titan forgets an order once it is closed and Sentinel keeps balances, not their history;
Binance's clients ask for both (``allOrders``, ``userTrades``, ``income``) and for an
order's executed quantity, quote and average price. :class:`History` is that read model.

Rules
-----
- It is fed only :class:`~exchange.runtime.sequencer.Committed` batches (durable
  records, in seq order), at start-up from the journal and then from the sequencer, so
  it never shows what a crash could take back, and a rebuild gives the same answers.
- It follows the accounts it is told to (:meth:`History.follow`: those with API keys);
  the rest of the flow costs one set lookup per event.
- Per account it keeps every open order, and the newest ``keep`` closed orders, trades
  and income rows (Binance keeps 90 days; this keeps a count): memory is bounded by the
  open orders plus ``3 x keep`` rows per followed account.
- Order ids are Titan's (the input's seq); a liquidation's orders are Sentinel's
  (client id ``autoclose-<id>``, type LIQUIDATION); an auto-deleveraging close gets an
  order of its own (client id ``adl_autoclose``; a fund takeover ``autoclose-<id>``),
  id ``ADL_ID_BASE + seq x 1000 + the event's index``.
- Statuses: NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED and EXPIRED_IN_MATCH (a
  self-trade prevention expiry). A conditional order is NEW until it fires; then it is
  ``triggered`` and works as LIMIT or MARKET under the same id.
- A post-only order that would have taken, and an FOK order that could not fill, are
  refused on Binance and never enter its history; here they are accepted and expire in
  one record, and the row is dropped, as on Binance.
- Every change that a user stream reports is handed to ``listener`` (if set) as
  ``(account, Change)`` in record order, after the row reflects it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from exchange.runtime.sequencer import Committed
from sentinel.commands import MarkPrice
from sentinel.events import (
    AutoDeleveraged,
    BalanceChanged,
    BalanceReason,
    InsuranceTakeover,
    IsolatedMarginChanged,
    LeverageSet,
    LiquidationOrder,
    MarginTypeSet,
    PositionChanged,
)
from titan.commands import NewOrder
from titan.enums import (
    CONDITIONAL_TYPES,
    ExpireReason,
    OrderType,
    StpMode,
    TimeInForce,
    WorkingType,
)
from titan.events import Accepted, Amended, Cancelled, Expired, Trade, Triggered

R = TypeVar("R")
ADL_ID_BASE = 1 << 61  # ids of the orders that stand for auto-deleveraging closes
DEFAULT_KEEP = 1_000

#: The expiry reasons that Binance reports as EXPIRED_IN_MATCH (self-trade prevention).
STP_EXPIRIES = frozenset(
    {ExpireReason.STP_EXPIRE_TAKER, ExpireReason.STP_EXPIRE_MAKER, ExpireReason.STP_EXPIRE_BOTH}
)
#: Expiries that Binance refuses at entry instead (the order never had a history).
REFUSED_AT_ENTRY = frozenset({ExpireReason.POST_ONLY_WOULD_TAKE, ExpireReason.FOK_NOT_FILLABLE})

#: BalanceChanged reasons -> Binance's income types (ISOLATED_MARGIN moves are no income).
INCOME_TYPES: dict[str, str] = {
    BalanceReason.DEPOSIT: "TRANSFER",
    BalanceReason.WITHDRAW: "TRANSFER",
    BalanceReason.REALIZED_PNL: "REALIZED_PNL",
    BalanceReason.FEE: "COMMISSION",
    BalanceReason.FUNDING: "FUNDING_FEE",
    BalanceReason.LIQUIDATION: "INSURANCE_CLEAR",
}

#: BalanceChanged reasons -> ACCOUNT_UPDATE's event reason ``m`` (fills are ORDER).
ACCOUNT_REASONS: dict[str, str] = {
    BalanceReason.DEPOSIT: "DEPOSIT",
    BalanceReason.WITHDRAW: "WITHDRAW",
    BalanceReason.FUNDING: "FUNDING_FEE",
    BalanceReason.LIQUIDATION: "INSURANCE_CLEAR",
}


@dataclass(slots=True)
class OrderRow:
    """One order as Binance reports it (Titan units; see :mod:`exchange.gateway.wire`)."""

    order_id: int
    account: int
    symbol: str
    side: str
    orig_type: str  # as placed: LIMIT, MARKET, STOP, ..., LIQUIDATION
    tif: str
    price: int
    orig_qty: int  # the whole order: executed + open
    stop_price: int
    client_order_id: str
    reduce_only: bool
    working_type: str
    stp: str
    time: int  # ms, when it was accepted
    update_time: int
    status: str = "NEW"
    executed_qty: int = 0
    cum_quote: int = 0  # sum of qty x price, Titan units
    triggered: bool = False
    trigger_time: int = 0

    @property
    def conditional(self) -> bool:
        """A STOP/TAKE_PROFIT kind (an algo order on Binance's API)."""
        return self.orig_type in CONDITIONAL_TYPES

    @property
    def algo(self) -> bool:
        """A conditional order that has not fired: on Binance it belongs to the Algo
        Service's endpoints, not among the regular orders (it joins them when it fires)."""
        return self.conditional and not self.triggered

    @property
    def type(self) -> str:
        """What it works as now: a conditional order that fired is LIMIT or MARKET."""
        if self.conditional and self.triggered:
            return OrderType.LIMIT if self.orig_type in ("STOP", "TAKE_PROFIT") else "MARKET"
        return self.orig_type

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


class TradeRow(NamedTuple):
    """One fill of a followed account (``userTrades``)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: int
    qty: int
    maker: bool
    realized_pnl: int  # money
    commission: int  # money
    time: int


class IncomeRow(NamedTuple):
    """One wallet movement (``income``): ``amount`` money, signed."""

    tran_id: int
    symbol: str
    income_type: str
    amount: int
    asset: str
    time: int
    trade_id: int


class Change(NamedTuple):
    """Something a user stream reports, for one account, from one durable record.

    ``kind`` is "order" (``order``; ``trade`` set on a fill; ``exec_type`` Binance's
    x), "account" (``balances``: asset -> wallet, ``positions``: symbols, ``reason``),
    or "config" (``symbol``, ``leverage``).
    """

    kind: str
    seq: int
    ts: int
    order: OrderRow | None = None
    exec_type: str = ""
    trade: TradeRow | None = None
    reason: str = ""
    assets: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    symbol: str = ""
    leverage: int = 0


@dataclass
class _Account:
    open: dict[int, OrderRow] = field(default_factory=dict)
    closed: deque[OrderRow] = field(default_factory=deque)
    trades: deque[TradeRow] = field(default_factory=deque)
    income: deque[IncomeRow] = field(default_factory=deque)
    by_client_id: dict[str, int] = field(default_factory=dict)  # open orders' client ids
    balances: dict[str, int] = field(default_factory=dict)  # asset -> cross wallet (money)
    balance_ts: dict[str, int] = field(default_factory=dict)
    #: symbol -> (size, cost, isolated margin) after the last change
    positions: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    position_ts: dict[str, int] = field(default_factory=dict)
    isolated: dict[str, bool] = field(default_factory=dict)  # margin type, as last set


class History:
    """Orders, trades and income of the followed accounts (see the module rules)."""

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.keep = keep
        self.accounts: dict[int, _Account] = {}
        self.marks: dict[str, int] = {}  # the durable mark prices
        self.last_seq = 0
        self.listener: Callable[[int, Change], None] | None = None

    def follow(self, accounts: Iterable[int]) -> None:
        """Keep the history of ``accounts`` from the next record on."""
        for account in accounts:
            self.accounts.setdefault(account, _Account())

    # -- queries ------------------------------------------------------------------------

    def order(self, account: int, order_id: int = 0, client_order_id: str = "") -> OrderRow | None:
        """An order of ``account`` by id, or by client id (the open one, else the newest)."""
        acct = self.accounts.get(account)
        if acct is None:
            return None
        if order_id:
            row = acct.open.get(order_id)
            if row is not None:
                return row
            return next((r for r in reversed(acct.closed) if r.order_id == order_id), None)
        oid = acct.by_client_id.get(client_order_id)
        if oid is not None:
            return acct.open[oid]
        return next(
            (r for r in reversed(acct.closed) if r.client_order_id == client_order_id), None
        )

    def open_orders(self, account: int, symbol: str = "") -> list[OrderRow]:
        """Open orders (by id), of one symbol or all."""
        acct = self.accounts.get(account)
        if acct is None:
            return []
        return [r for r in acct.open.values() if not symbol or r.symbol == symbol]

    def all_orders(self, account: int, symbol: str) -> list[OrderRow]:
        """Every kept order of ``symbol``, open and closed, by id."""
        acct = self.accounts.get(account)
        if acct is None:
            return []
        rows = [r for r in acct.closed if r.symbol == symbol]
        rows += [r for r in acct.open.values() if r.symbol == symbol]
        return sorted(rows, key=lambda r: r.order_id)

    def trades(self, account: int, symbol: str) -> list[TradeRow]:
        acct = self.accounts.get(account)
        return [t for t in acct.trades if t.symbol == symbol] if acct is not None else []

    def income(self, account: int) -> list[IncomeRow]:
        acct = self.accounts.get(account)
        return list(acct.income) if acct is not None else []

    def balance(self, account: int, asset: str) -> int:
        """The durable cross wallet balance (money)."""
        acct = self.accounts.get(account)
        return acct.balances.get(asset, 0) if acct is not None else 0

    def balance_time(self, account: int, asset: str) -> int:
        """When the wallet last changed (ms; 0: never)."""
        acct = self.accounts.get(account)
        return acct.balance_ts.get(asset, 0) if acct is not None else 0

    def position(self, account: int, symbol: str) -> tuple[int, int, int, bool]:
        """The durable (size, cost, isolated margin, isolated) of a position."""
        acct = self.accounts.get(account)
        if acct is None:
            return 0, 0, 0, False
        size, cost, margin = acct.positions.get(symbol, (0, 0, 0))
        return size, cost, margin, acct.isolated.get(symbol, False)

    def position_time(self, account: int, symbol: str) -> int:
        """When the position last changed (ms; 0: never)."""
        acct = self.accounts.get(account)
        return acct.position_ts.get(symbol, 0) if acct is not None else 0

    # -- feeding ------------------------------------------------------------------------

    def on_committed(self, batch: list[Committed]) -> None:
        """Apply durable records (a sequencer subscriber)."""
        for rec in batch:
            self.apply(rec)

    def apply(self, rec: Committed) -> None:
        """Apply one durable record (in seq order)."""
        self.last_seq = rec.seq
        cmd = rec.command
        if type(cmd) is MarkPrice:
            self.marks[cmd.symbol] = cmd.price
        accounts = self.accounts
        if not accounts:
            return
        touched: dict[int, tuple[dict[str, None], dict[str, None], list[str]]] = {}
        liquidation_ids: dict[int, None] = {}
        moved: dict[int, int] = {}  # account -> signed qty of its last transfer (ADL, fund)
        for i, ev in enumerate(rec.events):
            if type(ev) is Trade:
                if ev.maker_account in accounts:
                    self._fill(rec, i, ev, ev.maker_account, True)
                if ev.taker_account in accounts:
                    self._fill(rec, i, ev, ev.taker_account, False)
            elif (
                type(ev) is PositionChanged
                or type(ev) is BalanceChanged
                or type(ev) is IsolatedMarginChanged
            ):
                if ev.account in accounts:
                    self._account_change(rec, i, ev, touched)
                    if type(ev) is PositionChanged and not ev.trade_id:
                        moved[ev.account] = ev.qty
            elif type(ev) is Accepted:
                if ev.account in accounts:
                    self._accepted(rec, ev, liquidation_ids)
            elif type(ev) is Cancelled or type(ev) is Expired:
                if ev.account in accounts:
                    self._closed(rec, ev)
            elif type(ev) is Amended:
                if ev.account in accounts:
                    self._amended(rec, ev)
            elif type(ev) is Triggered:
                if ev.account in accounts:
                    self._triggered(rec, ev)
            elif type(ev) is LiquidationOrder:
                if ev.account in accounts:
                    liquidation_ids[ev.order_id] = None
            elif type(ev) is AutoDeleveraged:
                for account, client_id in ((ev.account, ""), (ev.counterparty, "adl_autoclose")):
                    if account in accounts and account in moved:
                        self._transfer(
                            rec, i, account, ev.symbol, moved[account], ev.price, client_id
                        )
            elif type(ev) is InsuranceTakeover:
                if ev.account in accounts and ev.account in moved:
                    self._transfer(rec, i, ev.account, ev.symbol, moved[ev.account], ev.price, "")
            elif type(ev) is LeverageSet:
                if ev.account in accounts:
                    change = Change(
                        "config", rec.seq, rec.ts, symbol=ev.symbol, leverage=ev.leverage
                    )
                    self._emit(ev.account, change)
            elif type(ev) is MarginTypeSet:
                if ev.account in accounts:
                    accounts[ev.account].isolated[ev.symbol] = ev.isolated
                    entry = touched.setdefault(ev.account, ({}, {}, []))
                    entry[1][ev.symbol] = None
                    entry[2].append("MARGIN_TYPE_CHANGE")
        for account, (assets, symbols, reasons) in touched.items():
            self._emit(
                account,
                Change(
                    "account",
                    rec.seq,
                    rec.ts,
                    reason=reasons[0] if reasons else "ORDER",
                    assets=tuple(assets),
                    symbols=tuple(symbols),
                ),
            )

    # -- the rules per event ------------------------------------------------------------

    def _emit(self, account: int, change: Change) -> None:
        if self.listener is not None:
            self.listener(account, change)

    def _accepted(self, rec: Committed, ev: Accepted, liquidation_ids: dict[int, None]) -> None:
        cmd = rec.command
        placed = cmd if type(cmd) is NewOrder and cmd.order_id == ev.order_id else None
        liquidation = ev.order_id in liquidation_ids
        row = OrderRow(
            order_id=ev.order_id,
            account=ev.account,
            symbol=ev.symbol,
            side=str(ev.side),
            orig_type="LIQUIDATION" if liquidation else str(ev.type),
            tif=str(ev.tif),
            price=ev.price,
            orig_qty=ev.qty,
            stop_price=ev.stop_price,
            client_order_id=(f"autoclose-{ev.order_id}" if liquidation else ev.client_order_id),
            reduce_only=placed.reduce_only if placed is not None else liquidation,
            working_type=str(
                placed.working_type if placed is not None else WorkingType.CONTRACT_PRICE
            ),
            stp=str(placed.stp if placed is not None else StpMode.NONE),
            time=rec.ts,
            update_time=rec.ts,
        )
        acct = self.accounts[ev.account]
        acct.open[ev.order_id] = row
        if row.client_order_id:
            acct.by_client_id[row.client_order_id] = ev.order_id
        self._emit(ev.account, Change("order", rec.seq, rec.ts, row, "NEW"))

    def _fill(self, rec: Committed, index: int, ev: Trade, account: int, maker: bool) -> None:
        order_id = ev.maker_order_id if maker else ev.taker_order_id
        acct = self.accounts[account]
        row = acct.open.get(order_id)
        if row is None:
            return
        row.executed_qty += ev.qty
        row.cum_quote += ev.qty * ev.price
        row.update_time = rec.ts
        remaining = ev.maker_remaining if maker else ev.taker_remaining
        row.status = "PARTIALLY_FILLED" if remaining else "FILLED"
        # the fill's realized PnL and fee are in the PositionChanged after it, in the same
        # record: the stream's TRADE update (sent now) carries them, as Binance's "rp", "n"
        pnl = fee = 0
        for later in rec.events[index + 1 :]:
            if (
                type(later) is PositionChanged
                and later.trade_id == ev.trade_id
                and later.account == account
                and abs(later.qty) == ev.qty
            ):
                pnl, fee = later.realized_pnl, later.fee
                break
        trade = TradeRow(
            ev.trade_id, order_id, ev.symbol, row.side, ev.price, ev.qty, maker, pnl, fee, rec.ts
        )
        self._add(acct.trades, trade)
        if not remaining:
            self._close(acct, row)
        self._emit(account, Change("order", rec.seq, rec.ts, row, "TRADE", trade))

    def _account_change(
        self,
        rec: Committed,
        index: int,
        ev: PositionChanged | BalanceChanged | IsolatedMarginChanged,
        touched: dict[int, tuple[dict[str, None], dict[str, None], list[str]]],
    ) -> None:
        assets, symbols, reasons = touched.setdefault(ev.account, ({}, {}, []))
        acct = self.accounts[ev.account]
        if type(ev) is PositionChanged:
            symbols[ev.symbol] = None
            acct.positions[ev.symbol] = (ev.size, ev.cost, ev.margin)
            acct.position_ts[ev.symbol] = rec.ts
            return
        if type(ev) is IsolatedMarginChanged:
            symbols[ev.symbol] = None
            size, cost, _ = acct.positions.get(ev.symbol, (0, 0, 0))
            acct.positions[ev.symbol] = (size, cost, ev.margin)
            return
        assert type(ev) is BalanceChanged
        assets[ev.asset] = None
        acct.balances[ev.asset] = ev.balance
        acct.balance_ts[ev.asset] = rec.ts
        income_type = INCOME_TYPES.get(str(ev.reason))
        reason = ACCOUNT_REASONS.get(str(ev.reason))
        if reason is not None:
            reasons.append(reason)
        if income_type is not None and ev.amount:
            trade_id = ev.ref if ev.reason in (BalanceReason.REALIZED_PNL, BalanceReason.FEE) else 0
            self._add(
                acct.income,
                IncomeRow(
                    rec.seq * 1_000 + index,  # unique while a record has < 1,000 events
                    ev.symbol,
                    income_type,
                    ev.amount,
                    ev.asset,
                    rec.ts,
                    trade_id,
                ),
            )

    def _closed(self, rec: Committed, ev: Cancelled | Expired) -> None:
        acct = self.accounts[ev.account]
        row = acct.open.get(ev.order_id)
        if row is None:
            return
        row.update_time = rec.ts
        if type(ev) is Cancelled:
            row.status, exec_type = "CANCELED", "CANCELED"
        elif ev.reason in STP_EXPIRIES:
            row.status, exec_type = "EXPIRED_IN_MATCH", "EXPIRED"
        else:
            row.status, exec_type = "EXPIRED", "EXPIRED"
        refused = type(ev) is Expired and ev.reason in REFUSED_AT_ENTRY and row.time == rec.ts
        if (
            refused
            and not row.executed_qty
            and row.order_id == getattr(rec.command, "order_id", -1)
        ):
            acct.open.pop(row.order_id, None)
            acct.by_client_id.pop(row.client_order_id, None)
            return
        self._close(acct, row)
        self._emit(ev.account, Change("order", rec.seq, rec.ts, row, exec_type))

    def _amended(self, rec: Committed, ev: Amended) -> None:
        row = self.accounts[ev.account].open.get(ev.order_id)
        if row is None:
            return
        row.price = ev.price
        row.orig_qty = row.executed_qty + ev.qty
        row.update_time = rec.ts
        self._emit(ev.account, Change("order", rec.seq, rec.ts, row, "AMENDMENT"))

    def _triggered(self, rec: Committed, ev: Triggered) -> None:
        row = self.accounts[ev.account].open.get(ev.order_id)
        if row is None:
            return
        row.triggered = True
        row.trigger_time = rec.ts
        row.update_time = rec.ts
        self._emit(ev.account, Change("order", rec.seq, rec.ts, row, "NEW"))

    def _transfer(
        self, rec: Committed, index: int, account: int, symbol: str, qty: int, price: int, cid: str
    ) -> None:
        """A position moved by a liquidation outside the book (auto-deleveraging, or the
        fund taking it over): a filled LIQUIDATION order of its own at the bankruptcy
        price, ``qty`` signed as the account's position changed (client id
        ``adl_autoclose`` for the deleveraged counterparty, ``autoclose-<id>`` for the
        liquidated account)."""
        acct = self.accounts[account]
        order_id = ADL_ID_BASE + rec.seq * 1_000 + index
        side = "BUY" if qty > 0 else "SELL"
        row = OrderRow(
            order_id=order_id,
            account=account,
            symbol=symbol,
            side=side,
            orig_type="LIQUIDATION",
            tif=str(TimeInForce.IOC),
            price=price,
            orig_qty=abs(qty),
            stop_price=0,
            client_order_id=cid or f"autoclose-{order_id}",
            reduce_only=True,
            working_type=str(WorkingType.CONTRACT_PRICE),
            stp=str(StpMode.NONE),
            time=rec.ts,
            update_time=rec.ts,
            status="FILLED",
            executed_qty=abs(qty),
            cum_quote=abs(qty) * price,
        )
        trade = TradeRow(0, order_id, symbol, side, price, abs(qty), False, 0, 0, rec.ts)
        self._add(acct.trades, trade)
        self._add(acct.closed, row)
        self._emit(account, Change("order", rec.seq, rec.ts, row, "TRADE", trade))

    def _close(self, acct: _Account, row: OrderRow) -> None:
        acct.open.pop(row.order_id, None)
        if acct.by_client_id.get(row.client_order_id) == row.order_id:
            del acct.by_client_id[row.client_order_id]
        self._add(acct.closed, row)

    def _add(self, rows: deque[R], row: R) -> None:
        rows.append(row)
        if len(rows) > self.keep:
            rows.popleft()


__all__ = ["ADL_ID_BASE", "Change", "History", "IncomeRow", "OrderRow", "TradeRow"]
