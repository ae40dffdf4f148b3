"""Sentinel's events: every change of a balance, position or the insurance fund.

All carry the seq and ts of the command that caused them (an :class:`Emitter` stamps
them). Money fields are integers in money units (10**-8 of the quote asset), prices in
the symbol's price units, sizes in its quantity units (signed: long > 0, short < 0).
Events are immutable NamedTuples; :data:`SentinelEvent` is their union.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple, Protocol


class Refusal(StrEnum):
    """Why Sentinel refused a command (nothing changed)."""

    INVALID_ACCOUNT = "INVALID_ACCOUNT"
    RESERVED_ACCOUNT = "RESERVED_ACCOUNT"
    RESERVED_ORDER_ID = "RESERVED_ORDER_ID"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    WITHDRAW_BREACHES_MARGIN = "WITHDRAW_BREACHES_MARGIN"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    NO_MARK_PRICE = "NO_MARK_PRICE"
    REDUCE_ONLY_REJECTED = "REDUCE_ONLY_REJECTED"
    NOTIONAL_ABOVE_LEVERAGE_LIMIT = "NOTIONAL_ABOVE_LEVERAGE_LIMIT"
    INVALID_LEVERAGE = "INVALID_LEVERAGE"
    POSITION_OR_ORDERS_OPEN = "POSITION_OR_ORDERS_OPEN"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_FUNDING_RATE = "INVALID_FUNDING_RATE"
    INVALID_MARGIN_TYPE = "INVALID_MARGIN_TYPE"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    NOTIONAL_TOO_LARGE = "NOTIONAL_TOO_LARGE"


class BalanceReason(StrEnum):
    """Why a wallet balance changed."""

    DEPOSIT = "DEPOSIT"
    WITHDRAW = "WITHDRAW"
    REALIZED_PNL = "REALIZED_PNL"
    FEE = "FEE"
    FUNDING = "FUNDING"
    ISOLATED_MARGIN = "ISOLATED_MARGIN"
    LIQUIDATION = "LIQUIDATION"


class FundReason(StrEnum):
    """Why the insurance fund's balance changed."""

    LIQUIDATION_FEE = "LIQUIDATION_FEE"
    LIQUIDATION_SURPLUS = "LIQUIDATION_SURPLUS"
    LIQUIDATION_DEFICIT = "LIQUIDATION_DEFICIT"
    ISOLATED_DEFICIT = "ISOLATED_DEFICIT"
    FUNDING_ROUNDING = "FUNDING_ROUNDING"
    REALIZED_PNL = "REALIZED_PNL"
    FUNDING = "FUNDING"


class Refused(NamedTuple):
    """Sentinel refused ``request`` (a command type name); nothing changed."""

    seq: int
    ts: int
    request: str
    account: int
    symbol: str
    order_id: int
    reason: Refusal


class BalanceChanged(NamedTuple):
    """A wallet moved by ``amount`` to ``balance``. ``symbol`` and ``ref`` (trade id,
    order id) name the cause where there is one."""

    seq: int
    ts: int
    account: int
    asset: str
    reason: BalanceReason
    amount: int
    balance: int
    symbol: str
    ref: int


class PositionChanged(NamedTuple):
    """A trade (``trade_id``; 0 for a takeover or ADL) changed a position.

    ``qty`` is the signed change, ``price`` the fill price, ``size`` and ``cost`` (signed
    entry notional in money; entry price = cost / size) the position after it,
    ``realized_pnl`` what this fill realized, ``fee`` what it charged, ``margin`` the
    isolated margin after it (0 for cross).
    """

    seq: int
    ts: int
    account: int
    symbol: str
    trade_id: int
    qty: int
    price: int
    size: int
    cost: int
    realized_pnl: int
    fee: int
    margin: int


class IsolatedMarginChanged(NamedTuple):
    """An isolated position's margin moved by ``amount`` to ``margin``."""

    seq: int
    ts: int
    account: int
    symbol: str
    reason: BalanceReason
    amount: int
    margin: int


class FundChanged(NamedTuple):
    """The insurance fund of ``asset`` moved by ``amount`` to ``balance``."""

    seq: int
    ts: int
    asset: str
    reason: FundReason
    amount: int
    balance: int
    account: int
    symbol: str


class LeverageSet(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    leverage: int


class MarginTypeSet(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    isolated: bool


class FundingSettled(NamedTuple):
    """Funding was exchanged in ``symbol`` at ``mark`` and ``rate``: ``paid`` left the
    payers, ``received`` reached the receivers, the rounding difference went to the fund."""

    seq: int
    ts: int
    symbol: str
    mark: int
    rate: int
    positions: int
    paid: int
    received: int


class FundingPaid(NamedTuple):
    """One position's funding: ``amount`` > 0 received, < 0 paid (from the isolated
    margin for isolated positions, the wallet otherwise)."""

    seq: int
    ts: int
    account: int
    symbol: str
    amount: int


class LiquidationStarted(NamedTuple):
    """An account (``symbol`` empty: its cross margin in ``asset``) or an isolated
    position reached margin ratio >= 100% at the mark: ``maintenance`` >= ``balance``."""

    seq: int
    ts: int
    account: int
    asset: str
    symbol: str
    maintenance: int
    balance: int


class LiquidationOrder(NamedTuple):
    """The IOC order sent into Titan to close a liquidated position, limited at the
    bankruptcy price (rounded to the tick in the account's favour)."""

    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    side: str
    qty: int
    bankruptcy_price: int


class InsuranceTakeover(NamedTuple):
    """The insurance fund took over ``qty`` (signed, the fund's change) at ``price``."""

    seq: int
    ts: int
    account: int
    symbol: str
    qty: int
    price: int


class AutoDeleveraged(NamedTuple):
    """ADL: ``counterparty``'s position was reduced by ``qty`` against the bankrupt
    ``account`` at the bankruptcy ``price``, with no fee (``rank`` 1 = first in queue)."""

    seq: int
    ts: int
    symbol: str
    account: int
    counterparty: int
    qty: int
    price: int
    rank: int


class LiquidationFinished(NamedTuple):
    """The liquidation is complete: ``filled`` in the book, ``taken_over`` by the fund,
    ``deleveraged`` by ADL, ``fee`` the clearance fee and ``remainder`` the margin left
    that went to the fund (negative: a deficit the fund covered)."""

    seq: int
    ts: int
    account: int
    asset: str
    symbol: str
    filled: int
    taken_over: int
    deleveraged: int
    fee: int
    remainder: int


class ReduceOnlyCancelled(NamedTuple):
    """A reduce-only order no longer fits the position and is cancelled (the Titan
    ``Cancelled`` event follows)."""

    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int


SentinelEvent = (
    Refused
    | BalanceChanged
    | PositionChanged
    | IsolatedMarginChanged
    | FundChanged
    | LeverageSet
    | MarginTypeSet
    | FundingSettled
    | FundingPaid
    | LiquidationStarted
    | LiquidationOrder
    | InsuranceTakeover
    | AutoDeleveraged
    | LiquidationFinished
    | ReduceOnlyCancelled
)

SENTINEL_EVENTS: tuple[type[SentinelEvent], ...] = (
    Refused,
    BalanceChanged,
    PositionChanged,
    IsolatedMarginChanged,
    FundChanged,
    LeverageSet,
    MarginTypeSet,
    FundingSettled,
    FundingPaid,
    LiquidationStarted,
    LiquidationOrder,
    InsuranceTakeover,
    AutoDeleveraged,
    LiquidationFinished,
    ReduceOnlyCancelled,
)


class EventSink(Protocol):
    """Anything Sentinel's events can be appended to (the venue's list of Titan's and
    Sentinel's events is one)."""

    def append(self, event: SentinelEvent, /) -> None: ...


class Emitter:
    """Where the events of one command go, and the ``seq`` and ``ts`` they all carry.

    The ledger's methods that change state report through it: ``em.append(event)``
    with ``em.seq``/``em.ts`` as the event's first two fields, so every event of a
    command carries that command's stamp.
    """

    __slots__ = ("append", "seq", "ts")

    def __init__(self, sink: EventSink, seq: int, ts: int) -> None:
        self.append = sink.append
        self.seq = seq
        self.ts = ts
