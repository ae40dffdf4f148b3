"""Binance USDⓈ-M-style rate limits: request weight per IP, orders per account, 429 and 418.

Pure and deterministic: nothing here reads a clock or does I/O. Every method takes the
time as ``now_ms`` (epoch milliseconds) from the caller; the transport turns the returned
:class:`Verdict` into a response (status, JSON ``{"code": ..., "msg": ...}``, the
``X-MBX-*`` headers and ``Retry-After``).

Rules
-----
- Windows are fixed calendar windows aligned like Binance's, which resets its counters at
  the start of each interval: the minute window of a request is ``now_ms // 60_000``, its
  10-second window ``now_ms // 10_000``. Time never runs backwards for a limiter: a
  ``now_ms`` earlier than one already seen is taken as the latest one seen.
- REQUEST_WEIGHT, per client IP per minute (default 2400): every admitted request adds its
  endpoint weight (given by the caller, ``>= 0``) to the IP's minute. A request is admitted
  only if ``used + weight <= limit``. ``X-MBX-USED-WEIGHT-1M`` reports the IP's used weight
  in the current minute (after the request when it was admitted) on every verdict.
- ORDERS, per account per 10 seconds (default 300) and per minute (default 1200): only
  requests the caller marks ``order=True`` count, one each, and only when admitted.
  ``X-MBX-ORDER-COUNT-10S`` and ``X-MBX-ORDER-COUNT-1M`` report the account's counts
  whenever an account is given (order or not).
- Order of checks: ban, then IP weight, then orders. A refused request consumes nothing:
  neither weight nor an order count (an order refused with -1015 adds no weight either).
- Over a limit: HTTP 429 with ``Retry-After`` = whole seconds until the exceeded window
  resets (rounded up, at least 1). IP weight: code -1003, "Too many requests; current
  limit of IP(<ip>) request weight per 1 MINUTE is <limit>. ...". Orders: code -1015,
  "Too many new orders; current limit is <limit> orders per 10 SECOND." (or "1 MINUTE");
  when both order windows are full, the minute one is named, since waiting for the
  10-second one would not help.
- Bans: the first 429 in an IP's minute tells the client to stop; it may ignore that
  ``ban_after`` times, i.e. up to ``1 + ban_after`` requests in one minute are refused with
  429. The next request of that minute that would be refused is answered 418 instead and
  starts a ban: code -1003, "Way too many requests; IP(<ip>) banned until <until_ms>. ...",
  ``Retry-After`` = seconds until the ban ends; the IP's count of 429s starts again from 0
  for after the ban. While banned, every request of that IP gets 418 (counted in
  ``banned_418``, consuming nothing, not extending the ban). Both kinds of 429 count
  towards the IP's ban counter: on Binance too, clients that keep hammering the order
  endpoints past -1015 get their IP banned; this limiter keeps one counter per IP.
- Ban escalation for repeat offenders: the n-th ban of an IP lasts
  ``min(first_ban_ms * 2 ** (n - 1), max_ban_ms)`` (2 min, 4 min, 8 min, ..., capped at
  3 days). An IP's ban history is forgotten ``ban_memory_ms`` after its last ban ended
  (default one day; Binance does not publish its own figure, this is the simulator's).
- Memory stays bounded: per-window entries are kept in order of their window (an entry
  moves to the back when it enters a new window), so stale ones sit at the front. Every
  :meth:`RateLimiter.check` first drops up to ``SWEEP_BUDGET`` stale entries of each table
  (and expired ban records, through a heap ordered by when they are forgotten); an entry
  met stale when touched is reset in place. :meth:`RateLimiter.sweep` drops any number.
  So the tables hold the keys active in the current windows, the IPs with a remembered
  ban, and at most the stale entries that the next few checks will drop.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import NamedTuple, TypeVar

K = TypeVar("K", str, int)

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
SWEEP_BUDGET = 64
"""Most stale entries that one :meth:`RateLimiter.check` drops from each table."""

HEADER_USED_WEIGHT = "X-MBX-USED-WEIGHT-1M"
HEADER_ORDERS_10S = "X-MBX-ORDER-COUNT-10S"
HEADER_ORDERS_1M = "X-MBX-ORDER-COUNT-1M"

CODE_TOO_MANY_REQUESTS = -1003
CODE_TOO_MANY_ORDERS = -1015


@dataclass(frozen=True)
class LimitSettings:
    """The limits; every field must be a positive int (``ValueError`` names the field)."""

    request_weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    ban_after: int = 3
    """429s an IP may ignore in one minute; the next refusal becomes a 418 ban."""
    first_ban_ms: int = 120_000
    max_ban_ms: int = 259_200_000
    ban_memory_ms: int = 86_400_000
    """How long after its last ban ended an IP's ban count is remembered for escalation."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"LimitSettings.{f.name} must be an int, got {value!r}")
            if value <= 0:
                raise ValueError(f"LimitSettings.{f.name} must be positive, got {value}")
        if self.max_ban_ms < self.first_ban_ms:
            raise ValueError(
                f"LimitSettings.max_ban_ms ({self.max_ban_ms}) must be at least "
                f"first_ban_ms ({self.first_ban_ms})"
            )

    def rate_limits(self) -> list[dict[str, object]]:
        """The ``rateLimits`` list of ``GET /fapi/v1/exchangeInfo``, as Binance writes it."""
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.request_weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": self.orders_per_10s,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.orders_per_minute,
            },
        ]

    def ban_duration_ms(self, nth: int) -> int:
        """How long the ``nth`` (1-based) ban of one IP lasts: doubling, capped."""
        if nth < 1:
            raise ValueError(f"nth must be at least 1, got {nth}")
        duration = self.first_ban_ms
        for _ in range(nth - 1):
            if duration >= self.max_ban_ms:
                break
            duration *= 2
        return min(duration, self.max_ban_ms)


class Verdict(NamedTuple):
    """What the transport turns into a response (it adds ``Retry-After`` when non-zero)."""

    status: int
    """200 when the request is admitted; 429 or 418 when refused."""
    code: int
    """The Binance error code when refused (-1003, -1015), else 0."""
    msg: str
    """The Binance error message when refused, else ``""``."""
    retry_after_s: int
    """Seconds for the ``Retry-After`` header when refused (at least 1), else 0."""
    headers: dict[str, str]
    """``X-MBX-USED-WEIGHT-1M`` always; ``X-MBX-ORDER-COUNT-10S``/``-1M`` with an account."""

    @property
    def allowed(self) -> bool:
        return self.status == 200


class _Window:
    """A counter in one fixed window (weight or orders), with the IP's 429s in it."""

    __slots__ = ("count", "refusals", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.count = 0
        self.refusals = 0


class _Ban:
    """An IP's ban record: current ban end, how many bans so far, when it is forgotten."""

    __slots__ = ("count", "forget_at_ms", "until_ms")

    def __init__(self) -> None:
        self.until_ms = 0
        self.count = 0
        self.forget_at_ms = 0


def _retry_after_s(until_ms: int, now_ms: int) -> int:
    return max(1, -(-(until_ms - now_ms) // 1000))


def _count(table: OrderedDict[K, _Window], key: K, window: int) -> int:
    """The count of ``key`` in ``window``, 0 for no entry or a stale one (nothing created)."""
    entry = table.get(key)
    if entry is None or entry.window != window:
        return 0
    return entry.count


def _touch(table: OrderedDict[K, _Window], key: K, window: int) -> _Window:
    """The entry of ``key`` in ``window``: created at the back, or reset and moved there."""
    entry = table.get(key)
    if entry is None:
        entry = table[key] = _Window(window)
    elif entry.window != window:
        entry.window = window
        entry.count = 0
        entry.refusals = 0
        table.move_to_end(key)
    return entry


def _drop_stale(table: OrderedDict[K, _Window], current: int, budget: int | None) -> int:
    """Pop entries of windows before ``current`` from the front (the oldest), up to budget."""
    removed = 0
    while table and (budget is None or removed < budget):
        oldest = next(iter(table.values()))
        if oldest.window >= current:
            break
        table.popitem(last=False)
        removed += 1
    return removed


class RateLimiter:
    """Binance USDⓈ-M request-weight and order-rate limits with 429s and escalating bans.

    The rules are in the module docstring. Not thread-safe: call it from one thread (the
    event loop). ``refused_429`` and ``banned_418`` count the verdicts given so far.
    """

    def __init__(self, settings: LimitSettings | None = None) -> None:
        self.settings = settings if settings is not None else LimitSettings()
        self.refused_429 = 0
        self.banned_418 = 0
        self._now_ms = 0
        self._ips: OrderedDict[str, _Window] = OrderedDict()
        self._orders_10s: OrderedDict[int, _Window] = OrderedDict()
        self._orders_1m: OrderedDict[int, _Window] = OrderedDict()
        self._bans: dict[str, _Ban] = {}
        self._forget: list[tuple[int, str]] = []

    # -- the check ---------------------------------------------------------------------

    def check(
        self,
        ip: str,
        weight: int,
        now_ms: int,
        account: int | None = None,
        order: bool = False,
    ) -> Verdict:
        """Admit or refuse one request of ``weight`` from ``ip`` at ``now_ms``.

        ``account`` is the API key's account when the request is signed; ``order`` says
        that it places an order (then ``account`` is required). An admitted request
        consumes its weight and, for an order, one count in both order windows.
        """
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        if order and account is None:
            raise ValueError("an order request needs an account")
        now_ms = self._advance(now_ms)
        self.sweep(now_ms, SWEEP_BUDGET)
        s = self.settings
        minute = now_ms // MINUTE_MS
        ten = now_ms // TEN_SECONDS_MS

        ban = self._bans.get(ip)
        if ban is not None and ban.until_ms > now_ms:
            return self._banned(ip, ban, now_ms, account)

        ip_window = _touch(self._ips, ip, minute)
        if ip_window.count + weight > s.request_weight_per_minute:
            msg = (
                f"Too many requests; current limit of IP({ip}) request weight per 1 MINUTE "
                f"is {s.request_weight_per_minute}. Please use WebSocket Streams for live "
                "updates to avoid polling the API."
            )
            retry = _retry_after_s((minute + 1) * MINUTE_MS, now_ms)
            return self._refuse(ip, ip_window, CODE_TOO_MANY_REQUESTS, msg, retry, now_ms, account)

        if order:
            assert account is not None
            count_10s = _count(self._orders_10s, account, ten)
            count_1m = _count(self._orders_1m, account, minute)
            if count_1m + 1 > s.orders_per_minute:
                msg = (
                    f"Too many new orders; current limit is {s.orders_per_minute} orders "
                    "per 1 MINUTE."
                )
                retry = _retry_after_s((minute + 1) * MINUTE_MS, now_ms)
                return self._refuse(
                    ip, ip_window, CODE_TOO_MANY_ORDERS, msg, retry, now_ms, account
                )
            if count_10s + 1 > s.orders_per_10s:
                msg = (
                    f"Too many new orders; current limit is {s.orders_per_10s} orders "
                    "per 10 SECOND."
                )
                retry = _retry_after_s((ten + 1) * TEN_SECONDS_MS, now_ms)
                return self._refuse(
                    ip, ip_window, CODE_TOO_MANY_ORDERS, msg, retry, now_ms, account
                )
            _touch(self._orders_10s, account, ten).count += 1
            _touch(self._orders_1m, account, minute).count += 1

        ip_window.count += weight
        return Verdict(200, 0, "", 0, self._headers(ip, now_ms, account))

    # -- metrics and housekeeping ------------------------------------------------------

    def bans_active(self, now_ms: int) -> int:
        """How many IPs are banned at ``now_ms``."""
        return sum(1 for ban in self._bans.values() if ban.until_ms > now_ms)

    def tracked(self) -> dict[str, int]:
        """Sizes of the internal tables, to watch that memory stays bounded.

        ``ip_windows`` (IPs with a minute window), ``orders_10s`` and ``orders_1m``
        (accounts with an order window), ``bans`` (IPs with a ban record, current or
        remembered) and ``ban_schedule`` (entries of the heap that forgets ban records).
        """
        return {
            "ip_windows": len(self._ips),
            "orders_10s": len(self._orders_10s),
            "orders_1m": len(self._orders_1m),
            "bans": len(self._bans),
            "ban_schedule": len(self._forget),
        }

    def sweep(self, now_ms: int, budget: int | None = None) -> int:
        """Drop stale windows and forgotten ban records; return how many entries went.

        At most ``budget`` entries per table are looked at (all when ``None``).
        """
        now_ms = self._advance(now_ms)
        minute = now_ms // MINUTE_MS
        removed = _drop_stale(self._ips, minute, budget)
        removed += _drop_stale(self._orders_10s, now_ms // TEN_SECONDS_MS, budget)
        removed += _drop_stale(self._orders_1m, minute, budget)
        popped = 0
        while self._forget and self._forget[0][0] <= now_ms:
            if budget is not None and popped >= budget:
                break
            forget_at, ip = heapq.heappop(self._forget)
            popped += 1
            ban = self._bans.get(ip)
            if ban is not None and ban.forget_at_ms == forget_at:
                del self._bans[ip]
                removed += 1
        return removed

    # -- internals ---------------------------------------------------------------------

    def _advance(self, now_ms: int) -> int:
        if now_ms > self._now_ms:
            self._now_ms = now_ms
        return self._now_ms

    def _headers(self, ip: str, now_ms: int, account: int | None) -> dict[str, str]:
        minute = now_ms // MINUTE_MS
        headers = {HEADER_USED_WEIGHT: str(_count(self._ips, ip, minute))}
        if account is not None:
            headers[HEADER_ORDERS_10S] = str(
                _count(self._orders_10s, account, now_ms // TEN_SECONDS_MS)
            )
            headers[HEADER_ORDERS_1M] = str(_count(self._orders_1m, account, minute))
        return headers

    def _refuse(
        self,
        ip: str,
        ip_window: _Window,
        code: int,
        msg: str,
        retry_after_s: int,
        now_ms: int,
        account: int | None,
    ) -> Verdict:
        """A 429, or the 418 that starts a ban once the IP ignored ``ban_after`` 429s."""
        if ip_window.refusals > self.settings.ban_after:
            ip_window.refusals = 0
            return self._banned(ip, self._start_ban(ip, now_ms), now_ms, account)
        ip_window.refusals += 1
        self.refused_429 += 1
        return Verdict(429, code, msg, retry_after_s, self._headers(ip, now_ms, account))

    def _start_ban(self, ip: str, now_ms: int) -> _Ban:
        ban = self._bans.get(ip)
        if ban is None:
            ban = self._bans[ip] = _Ban()
        ban.count += 1
        ban.until_ms = now_ms + self.settings.ban_duration_ms(ban.count)
        ban.forget_at_ms = ban.until_ms + self.settings.ban_memory_ms
        heapq.heappush(self._forget, (ban.forget_at_ms, ip))
        return ban

    def _banned(self, ip: str, ban: _Ban, now_ms: int, account: int | None) -> Verdict:
        self.banned_418 += 1
        msg = (
            f"Way too many requests; IP({ip}) banned until {ban.until_ms}. Please use "
            "WebSocket Streams for live updates to avoid bans."
        )
        return Verdict(
            418,
            CODE_TOO_MANY_REQUESTS,
            msg,
            _retry_after_s(ban.until_ms, now_ms),
            self._headers(ip, now_ms, account),
        )
