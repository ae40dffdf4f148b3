"""Parsers for LOBSTER message and orderbook files (see LOBSTER_README.txt).

Rules
-----
- A message row has at least six comma-separated columns: time (decimal seconds after
  midnight), type (1 submit, 2 partial cancel, 3 delete, 4 visible execution, 5 hidden
  execution, 6 cross trade, 7 halt), order id, size, price (dollars x 10000) and
  direction (1 buy, -1 sell; for executions the side of the resting order). Columns
  after the sixth are ignored, so files with extra trailing columns are accepted.
- The time is parsed exactly from its text into integer nanoseconds (never via float).
  LOBSTER writes times through floating point, so a row can carry noise past the ninth
  decimal (the 09:30-10:30 sample has ``35821.088778456004``): it is rounded to the
  nearest nanosecond.
- Types 1-4 need a positive order id, size and price; type 7 carries price -1, 0 or 1.
- An orderbook row has 4 x N integer columns (AskP, AskS, BidP, BidS per level, best
  first), the same N on every row; an empty level is written as price +/-9999999999
  with size 0.
- Blank lines are skipped (line numbers still count them). Every other problem raises
  :class:`~exchange.errors.UserError` with ``file:line: column k (name): problem``.

Runtime: one ``str.split`` and a handful of ``int`` calls per row; a row that fails the
fast path is re-examined column by column only to word the error.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from exchange.errors import UserError

SUBMIT, PARTIAL_CANCEL, DELETE, EXECUTE, HIDDEN, CROSS, HALT = 1, 2, 3, 4, 5, 6, 7
MESSAGE_TYPES = frozenset({SUBMIT, PARTIAL_CANCEL, DELETE, EXECUTE, HIDDEN, CROSS, HALT})
_BOOK_TYPES = frozenset({SUBMIT, PARTIAL_CANCEL, DELETE, EXECUTE})
EMPTY_ASK = 9_999_999_999  # LOBSTER's dummy price of a missing ask level
EMPTY_BID = -9_999_999_999  # ... and of a missing bid level

_COLUMNS = ("time", "type", "order id", "size", "price", "direction")


class Message(NamedTuple):
    """One LOBSTER message; ``line`` is its 1-based line in the file."""

    ts: int  # nanoseconds after midnight
    type: int
    order_id: int
    size: int
    price: int
    direction: int  # 1 buy, -1 sell
    line: int


def read_lines(path: str | Path, what: str) -> list[str]:
    """The lines of a text file, or UserError saying why it cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UserError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{p}: {what} is not text (byte {exc.start} is not UTF-8)") from None
    return text.splitlines()


def parse_time(text: str) -> int:
    """Decimal seconds text -> integer nanoseconds (rounded past the ninth decimal).

    ValueError if the text is not digits with at most one decimal point."""
    sec, dot, frac = text.strip().partition(".")
    if not sec.isdigit() or not sec.isascii() or (dot and not (frac.isdigit() and frac.isascii())):
        raise ValueError(f"{text!r} is not a decimal number of seconds")
    ns = int(sec) * 1_000_000_000
    if len(frac) > 9:  # float noise (35821.088778456004): round to the nearest ns
        return ns + int(frac[:9]) + (frac[9] >= "5")
    return ns + (int(frac.ljust(9, "0")) if frac else 0)


def _int_column(text: str) -> int:
    value = text.strip()
    body = value[1:] if value[:1] == "-" else value
    if not body.isdigit() or not body.isascii():
        raise ValueError(f"{text!r} is not an integer")
    return int(value)


def _check_message(parts: list[str]) -> tuple[int, str]:
    """Find the first bad column of a message row: (1-based column, problem)."""
    values: list[int] = []
    for k, text in enumerate(parts[:6]):
        try:
            values.append(parse_time(text) if k == 0 else _int_column(text))
        except ValueError as exc:
            return k + 1, str(exc)
    _, mtype, oid, size, price, direction = values
    if mtype not in MESSAGE_TYPES:
        return 2, f"{mtype} is not a LOBSTER message type (1-7)"
    if mtype in _BOOK_TYPES:
        if oid <= 0:
            return 3, f"order id {oid} must be positive"
        if size <= 0:
            return 4, f"size {size} must be positive"
        if price <= 0:
            return 5, f"price {price} must be positive"
    elif oid < 0:
        return 3, f"order id {oid} must not be negative"
    elif size < 0:
        return 4, f"size {size} must not be negative"
    if direction not in (1, -1):
        return 6, f"direction {direction} is not 1 (buy) or -1 (sell)"
    return 0, ""


def parse_messages(path: str | Path) -> list[Message]:
    """Parse a LOBSTER message file; raise UserError naming file, line and column."""
    out: list[Message] = []
    append = out.append
    for lineno, line in enumerate(read_lines(path, "message file"), 1):
        if not line or line.isspace():
            continue
        parts = line.split(",")
        if len(parts) < 6:
            raise UserError(
                f"{path}:{lineno}: expected at least 6 columns "
                f"({', '.join(_COLUMNS)}), found {len(parts)}"
            )
        bad = 0
        if line.isascii() and "_" not in line:
            try:
                mtype = int(parts[1])
                oid = int(parts[2])
                size = int(parts[3])
                price = int(parts[4])
                direction = int(parts[5])
                ts = parse_time(parts[0])
            except ValueError:
                bad = 1
            else:
                if mtype in _BOOK_TYPES:
                    bad = oid <= 0 or size <= 0 or price <= 0 or direction not in (1, -1)
                else:
                    bad = mtype not in MESSAGE_TYPES or oid < 0 or size < 0
                    bad = bad or direction not in (1, -1)
        else:
            bad = 1
        if bad:
            column, problem = _check_message(parts)
            if not column:  # cannot happen: the slow check is stricter than the fast one
                problem = "malformed row"
                column = 1
            raise UserError(f"{path}:{lineno}: column {column} ({_COLUMNS[column - 1]}): {problem}")
        append(Message(ts, mtype, oid, size, price, direction, lineno))
    if not out:
        raise UserError(f"{path}: message file holds no messages")
    return out


def _level_name(column: int) -> str:
    level, field = divmod(column - 1, 4)
    return f"{('ask price', 'ask size', 'bid price', 'bid size')[field]} {level + 1}"


def parse_orderbook(path: str | Path) -> tuple[list[tuple[int, ...]], list[int]]:
    """Parse a LOBSTER orderbook file into (rows of ints, line number of each row).

    Every row must have the same number of columns, a positive multiple of 4. Raises
    UserError naming file, line and column.
    """
    rows: list[tuple[int, ...]] = []
    lines: list[int] = []
    width = 0
    for lineno, line in enumerate(read_lines(path, "orderbook file"), 1):
        if not line or line.isspace():
            continue
        parts = line.split(",")
        if not width:
            width = len(parts)
            if width % 4:
                raise UserError(
                    f"{path}:{lineno}: an orderbook row has 4 columns per level "
                    f"(ask price, ask size, bid price, bid size); found {width}"
                )
        elif len(parts) != width:
            raise UserError(
                f"{path}:{lineno}: expected {width} columns like the first row, "
                f"found {len(parts)}"
            )
        try:
            if not line.isascii() or "_" in line:
                raise ValueError
            row = tuple(map(int, parts))
        except ValueError:
            for k, text in enumerate(parts, 1):
                try:
                    _int_column(text)
                except ValueError as exc:
                    raise UserError(
                        f"{path}:{lineno}: column {k} ({_level_name(k)}): {exc}"
                    ) from None
            raise UserError(f"{path}:{lineno}: malformed row") from None
        rows.append(row)
        lines.append(lineno)
    if not rows:
        raise UserError(f"{path}: orderbook file holds no rows")
    return rows, lines


def row_levels(
    row: tuple[int, ...], where: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """One orderbook row -> (asks, bids) as lists of (price, size), dummies dropped.

    Raises UserError (prefixed by ``where``) if a level is neither real (positive price
    and size) nor the documented dummy, or if a side is out of order.
    """
    asks: list[tuple[int, int]] = []
    bids: list[tuple[int, int]] = []
    for k in range(0, len(row), 4):
        for side, price, size, dummy in (
            (asks, row[k], row[k + 1], EMPTY_ASK),
            (bids, row[k + 2], row[k + 3], EMPTY_BID),
        ):
            if price == dummy and size == 0:
                continue
            if price <= 0 or size <= 0:
                raise UserError(f"{where}: level {k // 4 + 1} has price {price} size {size}")
            side.append((price, size))
    if any(a[0] >= b[0] for a, b in pairwise(asks)):
        raise UserError(f"{where}: ask prices are not ascending")
    if any(a[0] <= b[0] for a, b in pairwise(bids)):
        raise UserError(f"{where}: bid prices are not descending")
    return asks, bids
