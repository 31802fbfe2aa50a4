"""A caller's budget changes in place (a Ray worker's share as workers come and go): the
adaptive limit keeps its place between the new bounds, the buckets keep what they hold and
refill at the new rate, and a limit is rescaled, never added or removed."""

from __future__ import annotations

import pytest

from chatsim.targets import CallPolicy, TargetCaller
from chatsim.targets._adaptive import AdaptiveConcurrency, LimitChange
from chatsim.targets._limits import RateLimits, TokenBucket
from chatsim.testing import FakeClock

from .fakes import ScriptedAdapter


def test_a_bucket_keeps_its_level_and_refills_at_the_new_rate() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    bucket.take(10, now=0.0)
    bucket.set_rate(2.0, 20.0, now=3.0)  # 3 s at the old rate first: level 3
    assert bucket.level == pytest.approx(3.0)
    assert bucket.wait_time(5, now=3.0) == pytest.approx(1.0)  # 2 more at 2 per second
    bucket.set_rate(0.5, 2.0, now=3.0)  # a smaller bucket holds no more than it can
    assert bucket.level == pytest.approx(2.0)


def test_rate_limits_rescale_but_never_add_or_remove_a_limit() -> None:
    clock = FakeClock(0.0)
    limits = RateLimits(CallPolicy(requests_per_minute=60, burst_seconds=5), clock, clock.sleep)
    limits.set_rates(120, None, now=0.0)
    assert limits.requests is not None
    assert (limits.requests.rate, limits.requests.capacity) == (2.0, 10.0)
    with pytest.raises(ValueError, match="cannot add or remove"):
        limits.set_rates(None, None, now=0.0)
    with pytest.raises(ValueError, match="cannot add or remove"):
        limits.set_rates(240, 1000, now=0.0)
    assert limits.requests.rate == 2.0  # a refused change changes nothing


def test_the_adaptive_limit_keeps_its_place_between_the_new_bounds() -> None:
    ctl = AdaptiveConcurrency(CallPolicy(max_concurrency=16, pressure_window=1), now=0.0)
    ctl.on_rate_limit(ctl.generation, now=1.0)  # under pressure: 16 -> 8
    ctl.resize(maximum=8, minimum=1, now=2.0)  # a second worker joined: half of everything
    assert (ctl.maximum, ctl.limit, ctl.limiter.total_tokens) == (8, 4, 4)
    ctl.resize(maximum=16, minimum=1, now=3.0)  # it left again
    assert ctl.limit == 8
    assert ctl.changes[-2:] == [
        LimitChange(2.0, 8, 4, "reshare"),
        LimitChange(3.0, 4, 8, "reshare"),
    ]
    ctl.resize(maximum=1, minimum=4, now=4.0)  # never below one slot, nor above the maximum
    assert (ctl.minimum, ctl.limit) == (1, 1)


def test_a_caller_takes_a_new_budget_in_place() -> None:
    clock = FakeClock(0.0)
    policy = CallPolicy(max_concurrency=8, requests_per_minute=600, tokens_per_minute=60_000)
    caller = TargetCaller(ScriptedAdapter(time=clock), policy, clock=clock, sleep=clock.sleep)
    limits, slots = caller.limits, caller.concurrency.limiter
    half = policy.model_copy(
        update={"max_concurrency": 4, "requests_per_minute": 300, "tokens_per_minute": 30_000}
    )
    caller.reshape(half)
    assert caller.policy is half
    assert caller.limits is limits and caller.concurrency.limiter is slots  # the same, changed
    assert slots.total_tokens == 4
    assert limits.requests is not None and limits.requests.rate == 5.0
    assert limits.tokens is not None and limits.tokens.rate == 500.0
