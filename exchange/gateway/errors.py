"""Binance's error answers: ``{"code": <negative int>, "msg": <text>}`` with an HTTP status.

Rules
-----
- Every refusal the API gives is an :class:`ApiError`: a Binance error code, Binance's
  message (or one naming exactly what is wrong), and the HTTP status Binance uses for
  it: 400 for a bad request, 401 for an unknown key, 404 for an unknown path or method,
  413 for an oversized body, 429/418 for rate limits. Never a 5xx: to Binance's clients
  a 5xx means "the outcome is unknown", and every outcome here is known.
- Titan's reject reasons and Sentinel's refusals map to Binance's codes in one table
  each (:data:`TITAN_CODES`, :data:`SENTINEL_CODES`; docs/gateway.md prints both).
"""

from __future__ import annotations

from sentinel.events import Refusal
from titan.enums import RejectReason


class ApiError(Exception):
    """A refusal with Binance's error ``code``, ``msg`` and HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        """The JSON body Binance sends."""
        return {"code": self.code, "msg": self.msg}


# Binance's codes that the gateway answers with (names as in Binance's documentation).
UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
UNSUPPORTED_OPERATION = -1014
TOO_MANY_ORDERS = -1015
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM = -1102
UNKNOWN_PARAM = -1103
PARAM_EMPTY = -1105
NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_SYMBOL = -1121
INVALID_LISTEN_KEY = -1125
OPTIONAL_PARAMS_BAD_COMBO = -1128
INVALID_PARAMETER = -1130
BAD_RECV_WINDOW = -1131
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
BALANCE_NOT_SUFFICIENT = -2018
MARGIN_NOT_SUFFICIENT = -2019
ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
REDUCE_ONLY_REJECT = -2022
MAX_LEVERAGE_RATIO = -2027
INVALID_ORDER_STATUS = -4000
PRICE_LESS_THAN_ZERO = -4001
QTY_LESS_THAN_ZERO = -4003
QTY_GREATER_THAN_MAX = -4005
STOP_PRICE_LESS_THAN_ZERO = -4006
PRICE_NOT_BY_TICK = -4014
INVALID_CLIENT_ORDER_ID = -4015
PRICE_ABOVE_MULTIPLIER_UP = -4016
QTY_NOT_BY_STEP = -4023
PRICE_BELOW_MULTIPLIER_DOWN = -4024
INVALID_LEVERAGE = -4028
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
OPEN_ORDERS_EXIST = -4047
POSITION_EXISTS = -4048
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
DUPLICATED_CLIENT_ORDER_ID = -4116
USE_ALGO_ORDER_API = -4120
MIN_NOTIONAL = -4164
FOK_ORDER_REJECT = -5021
GTX_ORDER_REJECT = -5022
NO_NEED_TO_MODIFY = -5027
PATH_NOT_FOUND = -5000

#: Titan's reject reasons -> (code, message). PRICE_OUTSIDE_BAND is split by direction
#: where the order is known (:func:`titan_error`).
TITAN_CODES: dict[RejectReason, tuple[int, str]] = {
    RejectReason.UNKNOWN_SYMBOL: (BAD_SYMBOL, "Invalid symbol."),
    RejectReason.INVALID_SIDE: (INVALID_SIDE, "Invalid side."),
    RejectReason.INVALID_ORDER_TYPE: (INVALID_ORDER_TYPE, "Invalid orderType."),
    RejectReason.INVALID_TIME_IN_FORCE: (INVALID_TIF, "Invalid timeInForce."),
    RejectReason.INVALID_STP_MODE: (
        INVALID_PARAMETER,
        "Data sent for parameter 'selfTradePreventionMode' is not valid.",
    ),
    RejectReason.INVALID_WORKING_TYPE: (
        INVALID_PARAMETER,
        "Data sent for parameter 'workingType' is not valid.",
    ),
    RejectReason.INVALID_ACCOUNT: (
        REJECTED_MBX_KEY,
        "Invalid API-key, IP, or permissions for action.",
    ),
    RejectReason.INVALID_ORDER_ID: (
        INVALID_PARAMETER,
        "Data sent for parameter 'orderId' is not valid.",
    ),
    RejectReason.INVALID_CLIENT_ORDER_ID: (
        INVALID_CLIENT_ORDER_ID,
        "Client order id is not valid.",
    ),
    RejectReason.INVALID_QUANTITY: (QTY_LESS_THAN_ZERO, "Quantity less than or equal to zero."),
    RejectReason.QTY_OFF_LOT_GRID: (QTY_NOT_BY_STEP, "Quantity not increased by step size."),
    RejectReason.QTY_ABOVE_MAX: (QTY_GREATER_THAN_MAX, "Quantity greater than max quantity."),
    RejectReason.INVALID_PRICE: (PRICE_LESS_THAN_ZERO, "Price less than or equal to zero."),
    RejectReason.PRICE_OFF_TICK_GRID: (PRICE_NOT_BY_TICK, "Price not increased by tick size."),
    RejectReason.INVALID_STOP_PRICE: (STOP_PRICE_LESS_THAN_ZERO, "Stop price less than zero."),
    RejectReason.STOP_PRICE_OFF_TICK_GRID: (
        PRICE_NOT_BY_TICK,
        "Stop price not increased by tick size.",
    ),
    RejectReason.NOTIONAL_BELOW_MIN: (MIN_NOTIONAL, "Order's notional is below the minimum."),
    RejectReason.PRICE_OUTSIDE_BAND: (
        PRICE_ABOVE_MULTIPLIER_UP,
        "Price is outside the PERCENT_PRICE filter of the mark price.",
    ),
    RejectReason.DUPLICATE_ORDER_ID: (DUPLICATED_CLIENT_ORDER_ID, "Order id is duplicated."),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (
        DUPLICATED_CLIENT_ORDER_ID,
        "ClientOrderId is duplicated.",
    ),
    RejectReason.WOULD_IMMEDIATELY_TRIGGER: (
        ORDER_WOULD_IMMEDIATELY_TRIGGER,
        "Order would immediately trigger.",
    ),
    RejectReason.UNKNOWN_ORDER: (CANCEL_REJECTED, "Unknown order sent."),
    RejectReason.FOREIGN_ORDER: (CANCEL_REJECTED, "Unknown order sent."),
    RejectReason.ORDER_NOT_AMENDABLE: (
        INVALID_ORDER_STATUS,
        "Only resting LIMIT orders can be modified.",
    ),
    RejectReason.AMEND_NO_CHANGE: (NO_NEED_TO_MODIFY, "No need to modify the order."),
    RejectReason.POST_ONLY_WOULD_TAKE: (
        GTX_ORDER_REJECT,
        "Due to the order could not be executed as maker, the Post Only order will be rejected. "
        "The order will not be recorded in the order history",
    ),
}

#: Sentinel's refusals -> (code, message). POSITION_OR_ORDERS_OPEN is split into
#: -4047/-4048 where the gateway knows which (:func:`sentinel_error`).
SENTINEL_CODES: dict[Refusal, tuple[int, str]] = {
    Refusal.INVALID_ACCOUNT: (REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action."),
    Refusal.RESERVED_ACCOUNT: (REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action."),
    Refusal.RESERVED_ORDER_ID: (
        INVALID_PARAMETER,
        "Data sent for parameter 'orderId' is not valid.",
    ),
    Refusal.UNKNOWN_ASSET: (INVALID_PARAMETER, "Data sent for parameter 'asset' is not valid."),
    Refusal.UNKNOWN_SYMBOL: (BAD_SYMBOL, "Invalid symbol."),
    Refusal.INVALID_AMOUNT: (INVALID_PARAMETER, "Data sent for parameter 'amount' is not valid."),
    Refusal.INSUFFICIENT_BALANCE: (BALANCE_NOT_SUFFICIENT, "Balance is insufficient."),
    Refusal.WITHDRAW_BREACHES_MARGIN: (
        BALANCE_NOT_SUFFICIENT,
        "Balance is insufficient: the withdrawal would breach the initial margin.",
    ),
    Refusal.INSUFFICIENT_MARGIN: (MARGIN_NOT_SUFFICIENT, "Margin is insufficient."),
    Refusal.NO_MARK_PRICE: (NEW_ORDER_REJECTED, "No mark price for this symbol yet."),
    Refusal.REDUCE_ONLY_REJECTED: (REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected."),
    Refusal.NOTIONAL_ABOVE_LEVERAGE_LIMIT: (
        MAX_LEVERAGE_RATIO,
        "Exceeded the maximum allowable position at current leverage.",
    ),
    Refusal.INVALID_LEVERAGE: (INVALID_LEVERAGE, "Leverage is not valid."),
    Refusal.POSITION_OR_ORDERS_OPEN: (
        POSITION_EXISTS,
        "Margin type cannot be changed if there exists position.",
    ),
    Refusal.INVALID_PRICE: (PRICE_LESS_THAN_ZERO, "Price less than or equal to zero."),
    Refusal.INVALID_FUNDING_RATE: (INVALID_PARAMETER, "Funding rate is not valid."),
    Refusal.INVALID_MARGIN_TYPE: (
        INVALID_PARAMETER,
        "Data sent for parameter 'marginType' is not valid.",
    ),
    Refusal.INVALID_TIMESTAMP: (INVALID_TIMESTAMP, "Timestamp for this request is not valid."),
    Refusal.NOTIONAL_TOO_LARGE: (MAX_LEVERAGE_RATIO, "Order's notional is too large."),
}


def titan_error(reason: RejectReason | str, *, above_mark: bool | None = None) -> ApiError:
    """The ApiError for a Titan rejection (``above_mark``: a band rejection's direction,
    -4016 above the mark, -4024 below; None when it is not known)."""
    why = RejectReason(reason)
    code, msg = TITAN_CODES[why]
    if why is RejectReason.PRICE_OUTSIDE_BAND and above_mark is not None:
        if above_mark:
            code, msg = PRICE_ABOVE_MULTIPLIER_UP, "Price is higher than mark price multiplier cap."
        else:
            code, msg = (
                PRICE_BELOW_MULTIPLIER_DOWN,
                "Price is lower than mark price multiplier floor.",
            )
    return ApiError(code, msg)


def sentinel_error(reason: Refusal | str, *, orders_open: bool = False) -> ApiError:
    """The ApiError for a Sentinel refusal (``orders_open``: for POSITION_OR_ORDERS_OPEN,
    whether it was the open orders rather than a position)."""
    if Refusal(reason) is Refusal.POSITION_OR_ORDERS_OPEN and orders_open:
        return ApiError(
            OPEN_ORDERS_EXIST, "Margin type cannot be changed if there exists open orders."
        )
    code, msg = SENTINEL_CODES[Refusal(reason)]
    return ApiError(code, msg)


def missing(name: str) -> ApiError:
    """A mandatory parameter was not sent (or was empty)."""
    return ApiError(
        MANDATORY_PARAM, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def invalid(name: str, why: str = "") -> ApiError:
    """A parameter's value is not valid (``why`` says how, when it helps)."""
    tail = f" ({why})" if why else ""
    return ApiError(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.{tail}")
