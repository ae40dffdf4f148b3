"""Tests of exchange.gateway.limits: Binance-style request weight, order rate, 429, 418 bans.

Every rule of the module docstring has a test with exact values (statuses, codes, messages,
headers, Retry-After, ban ends), and a Hypothesis property checks random traffic against an
independent model of the windows: admitted weight per IP per minute and admitted orders per
account per 10 s / minute never exceed the limits, the headers report the model's counts,
a 429 is given only when a limit really is full, and memory drains once time passes.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.gateway.limits import (
    SWEEP_BUDGET,
    LimitSettings,
    RateLimiter,
    Verdict,
)

T0 = 1_700_000_040_000  # a minute boundary (1_700_000_040_000 % 60_000 == 0)
IP = "10.0.0.1"
OTHER_IP = "10.0.0.2"


def weight_msg(ip: str, limit: int) -> str:
    return (
        f"Too many requests; current limit of IP({ip}) request weight per 1 MINUTE is {limit}. "
        "Please use WebSocket Streams for live updates to avoid polling the API."
    )


def ban_msg(ip: str, until: int) -> str:
    return (
        f"Way too many requests; IP({ip}) banned until {until}. Please use WebSocket Streams "
        "for live updates to avoid bans."
    )


def test_t0_is_a_minute_boundary() -> None:
    assert T0 % 60_000 == 0


# -- settings ----------------------------------------------------------------------------


def test_default_settings_and_rate_limits_as_binance_writes_them() -> None:
    s = LimitSettings()
    assert (s.request_weight_per_minute, s.orders_per_10s, s.orders_per_minute) == (
        2400,
        300,
        1200,
    )
    assert (s.ban_after, s.first_ban_ms, s.max_ban_ms) == (3, 120_000, 259_200_000)
    assert s.rate_limits() == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ]


def test_rate_limits_follow_custom_settings() -> None:
    s = LimitSettings(request_weight_per_minute=10, orders_per_10s=2, orders_per_minute=5)
    assert [r["limit"] for r in s.rate_limits()] == [10, 2, 5]


@pytest.mark.parametrize(
    "field",
    [
        "request_weight_per_minute",
        "orders_per_10s",
        "orders_per_minute",
        "ban_after",
        "first_ban_ms",
        "max_ban_ms",
        "ban_memory_ms",
    ],
)
@pytest.mark.parametrize("value", [0, -1])
def test_non_positive_setting_is_refused_naming_the_field(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=rf"LimitSettings\.{field} must be positive"):
        LimitSettings(**{field: value})


def test_non_int_setting_is_refused() -> None:
    with pytest.raises(ValueError, match=r"LimitSettings\.orders_per_10s must be an int"):
        LimitSettings(orders_per_10s=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"LimitSettings\.ban_after must be an int"):
        LimitSettings(ban_after=True)


def test_max_ban_below_first_ban_is_refused() -> None:
    with pytest.raises(ValueError, match=r"max_ban_ms \(1000\) must be at least first_ban_ms"):
        LimitSettings(first_ban_ms=2000, max_ban_ms=1000)


def test_bad_arguments_to_check() -> None:
    limiter = RateLimiter()
    with pytest.raises(ValueError, match="weight must be >= 0"):
        limiter.check(IP, -1, T0)
    with pytest.raises(ValueError, match="needs an account"):
        limiter.check(IP, 1, T0, order=True)


# -- request weight ----------------------------------------------------------------------


def test_allowed_request_reports_used_weight() -> None:
    limiter = RateLimiter()
    v = limiter.check(IP, 5, T0)
    assert v == Verdict(200, 0, "", 0, {"X-MBX-USED-WEIGHT-1M": "5"})
    assert v.allowed
    v = limiter.check(IP, 20, T0 + 1000)
    assert v.headers == {"X-MBX-USED-WEIGHT-1M": "25"}


def test_weight_up_to_the_limit_is_allowed_then_429() -> None:
    limiter = RateLimiter()
    assert limiter.check(IP, 2399, T0).status == 200
    assert limiter.check(IP, 1, T0 + 1).headers["X-MBX-USED-WEIGHT-1M"] == "2400"
    v = limiter.check(IP, 1, T0 + 15_000)
    assert v == Verdict(429, -1003, weight_msg(IP, 2400), 45, {"X-MBX-USED-WEIGHT-1M": "2400"})
    assert not v.allowed
    assert limiter.refused_429 == 1


def test_refused_request_consumes_no_weight() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=100))
    assert limiter.check(IP, 60, T0).status == 200
    assert limiter.check(IP, 50, T0 + 1).status == 429  # 110 > 100
    v = limiter.check(IP, 40, T0 + 2)  # still 60 used: 100 fits
    assert v.status == 200
    assert v.headers["X-MBX-USED-WEIGHT-1M"] == "100"


def test_weight_window_resets_at_the_minute_boundary_not_sliding() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    assert limiter.check(IP, 10, T0 + 59_998).status == 200
    assert limiter.check(IP, 1, T0 + 59_999).status == 429
    v = limiter.check(IP, 10, T0 + 60_000)  # 2 ms after the first: a new calendar minute
    assert v.status == 200
    assert v.headers == {"X-MBX-USED-WEIGHT-1M": "10"}


@pytest.mark.parametrize(
    ("offset_ms", "retry"),
    [(0, 60), (1, 60), (999, 60), (1000, 59), (30_500, 30), (59_000, 1), (59_999, 1)],
)
def test_retry_after_counts_seconds_to_the_minute_reset(offset_ms: int, retry: int) -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=1))
    assert limiter.check(IP, 1, T0 + offset_ms).status == 200
    v = limiter.check(IP, 1, T0 + offset_ms)
    assert (v.status, v.retry_after_s) == (429, retry)


def test_weight_larger_than_the_limit_is_always_refused() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    v = limiter.check(IP, 11, T0)
    assert (v.status, v.code, v.headers["X-MBX-USED-WEIGHT-1M"]) == (429, -1003, "0")


def test_zero_weight_is_allowed_at_the_limit() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    limiter.check(IP, 10, T0)
    assert limiter.check(IP, 0, T0 + 1).status == 200


def test_ips_are_limited_separately() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    assert limiter.check(IP, 10, T0).status == 200
    assert limiter.check(IP, 1, T0).status == 429
    v = limiter.check(OTHER_IP, 10, T0)
    assert (v.status, v.headers["X-MBX-USED-WEIGHT-1M"]) == (200, "10")


def test_time_going_backwards_counts_as_the_latest_time() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    assert limiter.check(IP, 10, T0 + 60_000).status == 200
    v = limiter.check(IP, 1, T0)  # earlier minute: taken as T0 + 60_000, window full
    assert (v.status, v.retry_after_s) == (429, 60)


# -- orders ------------------------------------------------------------------------------


def test_order_headers_count_orders_only() -> None:
    limiter = RateLimiter()
    v = limiter.check(IP, 1, T0, account=7, order=True)
    assert v.headers == {
        "X-MBX-USED-WEIGHT-1M": "1",
        "X-MBX-ORDER-COUNT-10S": "1",
        "X-MBX-ORDER-COUNT-1M": "1",
    }
    v = limiter.check(IP, 5, T0 + 1, account=7)  # signed, not an order
    assert v.headers == {
        "X-MBX-USED-WEIGHT-1M": "6",
        "X-MBX-ORDER-COUNT-10S": "1",
        "X-MBX-ORDER-COUNT-1M": "1",
    }
    assert limiter.check(IP, 1, T0 + 2).headers == {"X-MBX-USED-WEIGHT-1M": "7"}


def test_orders_per_10s_limit_refuses_with_1015_and_consumes_nothing() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=3, orders_per_minute=100))
    for i in range(3):
        assert limiter.check(IP, 1, T0 + 4000 + i, account=1, order=True).status == 200
    v = limiter.check(IP, 1, T0 + 6500, account=1, order=True)
    assert v == Verdict(
        429,
        -1015,
        "Too many new orders; current limit is 3 orders per 10 SECOND.",
        4,  # 3.5 s to T0 + 10_000, rounded up
        {"X-MBX-USED-WEIGHT-1M": "3", "X-MBX-ORDER-COUNT-10S": "3", "X-MBX-ORDER-COUNT-1M": "3"},
    )
    # a non-order request of the same account still passes
    assert limiter.check(IP, 1, T0 + 6501, account=1).status == 200
    # the next 10-second window, same minute
    v = limiter.check(IP, 1, T0 + 10_000, account=1, order=True)
    assert v.status == 200
    assert v.headers == {
        "X-MBX-USED-WEIGHT-1M": "5",
        "X-MBX-ORDER-COUNT-10S": "1",
        "X-MBX-ORDER-COUNT-1M": "4",
    }


def test_orders_per_minute_limit_names_the_minute_and_its_reset() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=2, orders_per_minute=3))
    assert limiter.check(IP, 1, T0, account=1, order=True).status == 200
    assert limiter.check(IP, 1, T0 + 1, account=1, order=True).status == 200
    assert limiter.check(IP, 1, T0 + 10_000, account=1, order=True).status == 200
    v = limiter.check(IP, 1, T0 + 20_000, account=1, order=True)  # 10 s window empty
    assert (v.status, v.code, v.retry_after_s) == (429, -1015, 40)
    assert v.msg == "Too many new orders; current limit is 3 orders per 1 MINUTE."
    v = limiter.check(IP, 1, T0 + 60_000, account=1, order=True)
    assert v.status == 200
    assert v.headers["X-MBX-ORDER-COUNT-1M"] == "1"


def test_both_order_windows_full_names_the_minute() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=2, orders_per_minute=2))
    limiter.check(IP, 1, T0, account=1, order=True)
    limiter.check(IP, 1, T0, account=1, order=True)
    v = limiter.check(IP, 1, T0 + 1000, account=1, order=True)
    assert (v.msg, v.retry_after_s) == (
        "Too many new orders; current limit is 2 orders per 1 MINUTE.",
        59,
    )


def test_refused_order_adds_no_weight() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=1))
    limiter.check(IP, 10, T0, account=1, order=True)
    v = limiter.check(IP, 10, T0 + 1, account=1, order=True)
    assert (v.status, v.headers["X-MBX-USED-WEIGHT-1M"]) == (429, "10")


def test_ip_refusal_does_not_count_the_order() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    limiter.check(IP, 10, T0)
    v = limiter.check(IP, 1, T0 + 1, account=1, order=True)
    assert (v.status, v.code) == (429, -1003)
    assert v.headers["X-MBX-ORDER-COUNT-10S"] == "0"
    assert v.headers["X-MBX-ORDER-COUNT-1M"] == "0"
    v = limiter.check(OTHER_IP, 1, T0 + 2, account=1, order=True)
    assert (v.headers["X-MBX-ORDER-COUNT-10S"], v.headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")


def test_one_accounts_order_limit_does_not_affect_another() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=2))
    limiter.check(IP, 1, T0, account=1, order=True)
    limiter.check(IP, 1, T0, account=1, order=True)
    assert limiter.check(IP, 1, T0, account=1, order=True).code == -1015
    v = limiter.check(IP, 1, T0, account=2, order=True)
    assert v.status == 200
    assert (v.headers["X-MBX-ORDER-COUNT-10S"], v.headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")


def test_account_orders_are_counted_across_ips() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=2))
    limiter.check(IP, 1, T0, account=1, order=True)
    limiter.check(OTHER_IP, 1, T0, account=1, order=True)
    assert limiter.check("10.0.0.3", 1, T0, account=1, order=True).code == -1015


# -- bans --------------------------------------------------------------------------------


def fill_and_get_banned(limiter: RateLimiter, ip: str, now: int) -> Verdict:
    """Fill the IP's minute, take the 1 + ban_after 429s, return the 418 that follows."""
    limit = limiter.settings.request_weight_per_minute
    assert limiter.check(ip, limit, now).status == 200
    for _ in range(1 + limiter.settings.ban_after):
        assert limiter.check(ip, 1, now).status == 429
    return limiter.check(ip, 1, now)


def test_ban_after_ignored_429s() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10, ban_after=3))
    now = T0 + 5000
    assert limiter.check(IP, 10, now).status == 200
    statuses = [limiter.check(IP, 1, now + i).status for i in range(6)]
    assert statuses == [429, 429, 429, 429, 418, 418]
    assert limiter.refused_429 == 4
    assert limiter.banned_418 == 2
    until = now + 4 + 120_000
    assert limiter.check(IP, 0, now + 10) == Verdict(
        418, -1003, ban_msg(IP, until), 120, {"X-MBX-USED-WEIGHT-1M": "10"}
    )


def test_ban_after_is_configurable() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=1, ban_after=1))
    limiter.check(IP, 1, T0)
    assert [limiter.check(IP, 1, T0).status for _ in range(3)] == [429, 429, 418]


def test_after_a_short_ban_the_ip_gets_fresh_429s_in_the_same_minute() -> None:
    s = LimitSettings(request_weight_per_minute=1, ban_after=1, first_ban_ms=1000)
    limiter = RateLimiter(s)
    limiter.check(IP, 1, T0)
    assert [limiter.check(IP, 1, T0).status for _ in range(3)] == [429, 429, 418]
    assert limiter.check(IP, 1, T0 + 999).status == 418
    # the ban is over, the minute is not: told again before the next (longer) ban
    statuses = [limiter.check(IP, 1, T0 + 1000).status for _ in range(3)]
    assert statuses == [429, 429, 418]
    assert limiter.check(IP, 1, T0 + 1000).retry_after_s == 2


def test_429s_in_separate_windows_do_not_ban() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=1, ban_after=1))
    for minute in range(5):
        now = T0 + minute * 60_000
        assert limiter.check(IP, 1, now).status == 200
        assert [limiter.check(IP, 1, now).status for _ in range(2)] == [429, 429]
    assert limiter.banned_418 == 0
    assert limiter.bans_active(T0 + 300_000) == 0


def test_order_429s_count_towards_the_ip_ban() -> None:
    limiter = RateLimiter(LimitSettings(orders_per_10s=1, ban_after=2))
    assert limiter.check(IP, 1, T0, account=1, order=True).status == 200
    codes = [limiter.check(IP, 1, T0, account=1, order=True).code for _ in range(3)]
    assert codes == [-1015, -1015, -1015]
    v = limiter.check(IP, 1, T0, account=1, order=True)
    assert (v.status, v.code, v.retry_after_s) == (418, -1003, 120)
    # the ban is on the IP: a plain request from it is refused, another IP is fine
    assert limiter.check(IP, 1, T0 + 1).status == 418
    assert limiter.check(OTHER_IP, 1, T0 + 1, account=1).status == 200


def test_banned_ip_cannot_send_but_another_ip_can() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    v = fill_and_get_banned(limiter, IP, T0)
    assert (v.status, v.code, v.msg, v.retry_after_s) == (
        418,
        -1003,
        ban_msg(IP, T0 + 120_000),
        120,
    )
    # a new minute with room: still banned, weight not consumed
    v = limiter.check(IP, 1, T0 + 90_500, account=3, order=True)
    assert (v.status, v.retry_after_s) == (418, 30)
    assert v.headers == {
        "X-MBX-USED-WEIGHT-1M": "0",
        "X-MBX-ORDER-COUNT-10S": "0",
        "X-MBX-ORDER-COUNT-1M": "0",
    }
    assert limiter.check(OTHER_IP, 10, T0 + 90_500).status == 200
    assert limiter.bans_active(T0 + 119_999) == 1
    assert limiter.bans_active(T0 + 120_000) == 0
    v = limiter.check(IP, 1, T0 + 120_000)
    assert (v.status, v.headers["X-MBX-USED-WEIGHT-1M"]) == (200, "1")


def test_ban_durations_escalate_and_cap_at_three_days() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10))
    now = T0
    durations = []
    for _ in range(15):
        v = fill_and_get_banned(limiter, IP, now)
        assert v.status == 418
        durations.append(v.retry_after_s * 1000)
        now += v.retry_after_s * 1000  # the ban ends exactly then
        assert limiter.check(IP, 0, now - 1).status == 418
    minute = 60_000
    assert durations == [
        2 * minute,
        4 * minute,
        8 * minute,
        16 * minute,
        32 * minute,
        64 * minute,
        128 * minute,
        256 * minute,
        512 * minute,
        1024 * minute,
        2048 * minute,
        4096 * minute,
        259_200_000,
        259_200_000,
        259_200_000,
    ]
    assert limiter.banned_418 == 30


def test_ban_duration_ms() -> None:
    s = LimitSettings(first_ban_ms=1000, max_ban_ms=5000)
    assert [s.ban_duration_ms(n) for n in range(1, 6)] == [1000, 2000, 4000, 5000, 5000]
    assert LimitSettings().ban_duration_ms(10_000) == 259_200_000
    with pytest.raises(ValueError):
        s.ban_duration_ms(0)


def test_ban_history_is_forgotten_after_ban_memory() -> None:
    s = LimitSettings(request_weight_per_minute=10, ban_memory_ms=3_600_000)
    limiter = RateLimiter(s)
    assert fill_and_get_banned(limiter, IP, T0).retry_after_s == 120
    second_at = T0 + 120_000 + 3_600_000 - 60_000  # within the memory: escalates
    assert fill_and_get_banned(limiter, IP, second_at).retry_after_s == 240
    assert limiter.tracked()["bans"] == 1
    third_at = second_at + 240_000 + 3_600_000  # the memory of the second ban is over
    assert fill_and_get_banned(limiter, IP, third_at).retry_after_s == 120


def test_bans_active_counts_ips() -> None:
    limiter = RateLimiter(LimitSettings(request_weight_per_minute=10, first_ban_ms=60_000))
    fill_and_get_banned(limiter, "a", T0)
    fill_and_get_banned(limiter, "b", T0 + 30_000)
    assert limiter.bans_active(T0 + 30_000) == 2
    assert limiter.bans_active(T0 + 60_000) == 1
    assert limiter.bans_active(T0 + 90_000) == 0


# -- memory ------------------------------------------------------------------------------


def test_stale_windows_are_swept_with_a_bounded_cost_per_check() -> None:
    limiter = RateLimiter()
    n = 5 * SWEEP_BUDGET + 3
    for i in range(n):
        limiter.check(f"ip{i}", 1, T0, account=i, order=True)
    assert limiter.tracked() == {
        "ip_windows": n,
        "orders_10s": n,
        "orders_1m": n,
        "bans": 0,
        "ban_schedule": 0,
    }
    later = T0 + 60_000
    limiter.check("new", 1, later)
    assert limiter.tracked()["ip_windows"] == n - SWEEP_BUDGET + 1
    assert limiter.tracked()["orders_1m"] == n - SWEEP_BUDGET
    for _ in range(5):
        limiter.check("new", 1, later)
    assert limiter.tracked() == {
        "ip_windows": 1,
        "orders_10s": 0,
        "orders_1m": 0,
        "bans": 0,
        "ban_schedule": 0,
    }


def test_sweep_keeps_current_windows_and_drops_old_ones() -> None:
    limiter = RateLimiter()
    limiter.check("old", 1, T0, account=1, order=True)
    assert limiter.sweep(T0 + 9_999) == 0
    assert limiter.sweep(T0 + 10_000) == 1  # account 1's 10-second window
    assert limiter.tracked() == {
        "ip_windows": 1,
        "orders_10s": 0,
        "orders_1m": 1,
        "bans": 0,
        "ban_schedule": 0,
    }
    limiter.check("cur", 1, T0 + 45_000, account=2, order=True)
    assert limiter.sweep(T0 + 59_999) == 1  # account 2's 10-second window
    assert limiter.sweep(T0 + 60_000) == 4  # both IPs' and both accounts' minutes
    assert limiter.tracked() == {
        "ip_windows": 0,
        "orders_10s": 0,
        "orders_1m": 0,
        "bans": 0,
        "ban_schedule": 0,
    }
    # "old" touched again in a new minute: reset, counted afresh
    assert limiter.check("old", 3, T0 + 61_000).headers["X-MBX-USED-WEIGHT-1M"] == "3"


def test_touching_a_stale_entry_moves_it_behind_the_current_ones() -> None:
    limiter = RateLimiter()
    for i in range(SWEEP_BUDGET):  # fillers that use up the first sweep's budget
        limiter.check(f"f{i}", 1, T0)
    limiter.check("a", 1, T0)
    limiter.check("b", 1, T0)
    later = T0 + 60_000
    # sweeps the fillers only; "a" is then met stale, reset and moved behind "b"
    assert limiter.check("a", 2, later).headers["X-MBX-USED-WEIGHT-1M"] == "2"
    assert limiter.tracked()["ip_windows"] == 2
    # "b" is at the front now, stale: the next check drops it and keeps "a"
    limiter.check("x", 1, later)
    assert limiter.tracked()["ip_windows"] == 2
    assert limiter.check("a", 1, later).headers["X-MBX-USED-WEIGHT-1M"] == "3"


def test_ban_records_are_dropped_after_their_memory() -> None:
    s = LimitSettings(request_weight_per_minute=10, ban_memory_ms=1_000_000)
    limiter = RateLimiter(s)
    fill_and_get_banned(limiter, IP, T0)
    assert limiter.tracked()["bans"] == 1
    assert limiter.tracked()["ban_schedule"] == 1
    limiter.check(OTHER_IP, 1, T0 + 120_000 + 999_999)
    assert limiter.tracked()["bans"] == 1
    limiter.check(OTHER_IP, 1, T0 + 120_000 + 1_000_000)
    assert limiter.tracked()["bans"] == 0
    assert limiter.tracked()["ban_schedule"] == 0


# -- property ----------------------------------------------------------------------------

IPS = ["a", "b", "c"]
ACCOUNTS = [None, 1, 2]
PROPERTY_SETTINGS = LimitSettings(
    request_weight_per_minute=40,
    orders_per_10s=3,
    orders_per_minute=7,
    ban_after=2,
    first_ban_ms=15_000,
    max_ban_ms=100_000,
    ban_memory_ms=200_000,
)

steps = st.lists(
    st.tuples(
        st.sampled_from(IPS),
        st.integers(0, 25),
        st.integers(0, 12_000),  # time step, ms
        st.sampled_from(ACCOUNTS),
        st.booleans(),
    ),
    max_size=200,
)


@given(steps)
def test_admitted_traffic_never_exceeds_the_limits(
    seq: list[tuple[str, int, int, int | None, bool]],
) -> None:
    s = PROPERTY_SETTINGS
    limiter = RateLimiter(s)
    weight: defaultdict[tuple[str, int], int] = defaultdict(int)
    orders_10s: defaultdict[tuple[int, int], int] = defaultdict(int)
    orders_1m: defaultdict[tuple[int, int], int] = defaultdict(int)
    statuses: defaultdict[int, int] = defaultdict(int)
    now = T0 + 7
    for ip, w, dt, account, want_order in seq:
        now += dt
        order = want_order and account is not None
        minute, ten = now // 60_000, now // 10_000
        ip_fits = weight[ip, minute] + w <= s.request_weight_per_minute
        orders_fit = account is None or (
            orders_10s[account, ten] < s.orders_per_10s
            and orders_1m[account, minute] < s.orders_per_minute
        )
        v = limiter.check(ip, w, now, account=account, order=order)
        assert v.status in (200, 429, 418)
        statuses[v.status] += 1
        if v.status == 200:
            assert ip_fits
            assert orders_fit or not order
            weight[ip, minute] += w
            if order:
                assert account is not None
                orders_10s[account, ten] += 1
                orders_1m[account, minute] += 1
            assert (v.code, v.msg, v.retry_after_s) == (0, "", 0)
        elif v.status == 429:
            assert not ip_fits or (order and not orders_fit)
            assert v.code == (-1003 if not ip_fits else -1015)
            assert 1 <= v.retry_after_s <= 60
        else:
            assert v.code == -1003
            assert 1 <= v.retry_after_s <= s.max_ban_ms // 1000
        assert weight[ip, minute] <= s.request_weight_per_minute
        assert v.headers["X-MBX-USED-WEIGHT-1M"] == str(weight[ip, minute])
        if account is None:
            assert set(v.headers) == {"X-MBX-USED-WEIGHT-1M"}
        else:
            assert orders_10s[account, ten] <= s.orders_per_10s
            assert orders_1m[account, minute] <= s.orders_per_minute
            assert v.headers["X-MBX-ORDER-COUNT-10S"] == str(orders_10s[account, ten])
            assert v.headers["X-MBX-ORDER-COUNT-1M"] == str(orders_1m[account, minute])
        sizes = limiter.tracked()
        assert sizes["ip_windows"] <= len(IPS)
        assert sizes["bans"] <= len(IPS)
        assert sizes["orders_10s"] <= 2
        assert sizes["orders_1m"] <= 2
    assert (limiter.refused_429, limiter.banned_418) == (statuses[429], statuses[418])
    # long after everything: one check drains every table but its own window
    limiter.check("z", 1, now + s.max_ban_ms + s.ban_memory_ms + 60_000)
    assert limiter.tracked() == {
        "ip_windows": 1,
        "orders_10s": 0,
        "orders_1m": 0,
        "bans": 0,
        "ban_schedule": 0,
    }
    assert limiter.bans_active(now + s.max_ban_ms + s.ban_memory_ms + 60_000) == 0
