"""Token buckets, the pause gate and the token estimate, on an injected clock."""

from __future__ import annotations

import math

import anyio
import pytest

from chatsim.protocol._types import Message, Role
from chatsim.targets._contract import TargetRequest
from chatsim.targets._limits import RateLimits, TokenBucket, estimate_tokens, parse_reset
from chatsim.targets._policy import CallPolicy
from chatsim.targets._retry import DeadlineExceededError
from chatsim.testing import FakeClock

from .fakes import START

pytestmark = pytest.mark.anyio


def test_bucket_refills_at_rate_up_to_capacity() -> None:
    bucket = TokenBucket(rate=2.0, capacity=10.0, now=0.0)
    assert bucket.wait_time(10, 0.0) == 0.0
    bucket.take(10, 0.0)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.5)
    assert bucket.wait_time(4, 1.0) == pytest.approx(1.0)  # 2 refilled, 2 short
    assert bucket.wait_time(1, 100.0) == 0.0
    assert bucket.level == 10.0  # capped


def test_bucket_debt_lets_large_requests_through_and_keeps_the_rate() -> None:
    bucket = TokenBucket(rate=1.0, capacity=5.0, now=0.0)
    assert bucket.wait_time(50, 0.0) == 0.0  # waits only for a full bucket
    bucket.take(50, 0.0)
    assert bucket.level == -45.0
    assert bucket.wait_time(1, 0.0) == pytest.approx(46.0)


def test_bucket_adjust_refunds_and_charges() -> None:
    bucket = TokenBucket(rate=1.0, capacity=100.0, now=0.0)
    bucket.take(80, 0.0)
    bucket.adjust(+30, 0.0)  # estimate was 30 too high
    assert bucket.level == 50.0
    bucket.adjust(-70, 0.0)  # real usage was 70 more
    assert bucket.level == -20.0
    bucket.adjust(+1000, 0.0)
    assert bucket.level == 100.0


def test_bucket_observe_only_lowers_and_closes_until_reset() -> None:
    bucket = TokenBucket(rate=1.0, capacity=100.0, now=0.0)
    bucket.observe(remaining=500, reset_after=1.0, now=0.0)
    assert bucket.level == 100.0
    bucket.observe(remaining=40, reset_after=1.0, now=0.0)
    assert bucket.level == 40.0
    bucket.observe(remaining=0, reset_after=12.0, now=0.0)
    assert bucket.level == 0.0
    assert bucket.wait_time(1, 0.0) == pytest.approx(12.0)
    assert bucket.wait_time(1, 12.0) == 0.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("20ms", 0.02),
        ("6m0s", 360.0),
        ("1h2m3s", 3723.0),
        ("0.5s", 0.5),
        ("2.5", 2.5),
        ("0s", 0.0),
        ("soon", None),
        ("1x", None),
        ("-1", None),
        ("", None),
        ("1s junk", None),
    ],
)
def test_parse_reset(value: str, seconds: float | None) -> None:
    result = parse_reset(value)
    assert result == (pytest.approx(seconds) if seconds is not None else None)


def test_estimate_tokens_documented_formula() -> None:
    request = TargetRequest(
        messages=(Message(Role.SYSTEM, "a" * 8), Message(Role.USER, "b" * 9)), max_tokens=100
    )
    # ceil(8/4)+4 + ceil(9/4)+4 + 3 priming + 100 reply
    assert estimate_tokens(request, 512) == 2 + 4 + 3 + 4 + 3 + 100
    no_cap = TargetRequest(messages=(Message(Role.USER, ""),), max_tokens=None)
    assert estimate_tokens(no_cap, 512) == 0 + 4 + 3 + 512


def _limits(time: FakeClock, **policy: object) -> RateLimits:
    return RateLimits(CallPolicy(**policy), time, time.sleep)  # type: ignore[arg-type]


async def test_requests_per_minute_spaces_requests_after_the_burst() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=60, burst_seconds=2)  # 1/s, burst 2
    waits = [await limits.acquire(0, None) for _ in range(5)]
    assert waits == [0.0, 0.0, pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0)]
    assert time.now() == pytest.approx(START + 3.0)


async def test_tokens_per_minute_waits_for_the_shortfall() -> None:
    time = FakeClock()
    limits = _limits(time, tokens_per_minute=6000, burst_seconds=1)  # 100/s, capacity 100
    assert await limits.acquire(100, None) == 0.0
    assert await limits.acquire(50, None) == pytest.approx(0.5)
    limits.settle(estimated=50, actual=10, now=time.now())  # 40 refunded
    assert await limits.acquire(40, None) == 0.0


async def test_acquire_refuses_a_wait_past_the_deadline_without_sleeping() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=60, burst_seconds=1)
    await limits.acquire(0, None)
    with pytest.raises(DeadlineExceededError):
        await limits.acquire(0, deadline=time.now() + 0.5)
    assert time.sleeps == []
    assert await limits.acquire(0, deadline=time.now() + 5) == pytest.approx(1.0)


async def test_pause_holds_everyone_until_it_ends() -> None:
    time = FakeClock()
    limits = _limits(time)
    limits.pause(7.0, time.now())
    limits.pause(3.0, time.now())  # a shorter pause never shortens a longer one
    assert await limits.acquire(0, None) == pytest.approx(7.0)
    assert await limits.acquire(0, None) == 0.0


async def test_headers_feed_the_buckets() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=600, tokens_per_minute=60_000)
    limits.observe_headers(
        {
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "2s",
            "x-ratelimit-remaining-tokens": "10",
            "x-ratelimit-reset-tokens": "6ms",
        },
        time.now(),
    )
    assert limits.requests is not None and limits.tokens is not None
    assert limits.tokens.level == 10.0
    assert await limits.acquire(5, None) == pytest.approx(2.0)


async def test_headers_ignored_when_disabled_or_malformed() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=600, use_rate_limit_headers=False)
    limits.observe_headers({"x-ratelimit-remaining-requests": "0"}, time.now())
    assert await limits.acquire(0, None) == 0.0
    limits = _limits(time, requests_per_minute=600)
    limits.observe_headers({"x-ratelimit-remaining-requests": "lots"}, time.now())
    assert await limits.acquire(0, None) == 0.0


async def test_waiters_are_served_in_arrival_order() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=60, burst_seconds=1)
    await limits.acquire(0, None)  # empty the bucket
    order: list[int] = []

    async def take(i: int) -> None:
        await limits.acquire(0, None)
        order.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(take, i)
    assert order == [0, 1, 2, 3]
    assert all(math.isclose(s, 1.0) for s in time.sleeps)
