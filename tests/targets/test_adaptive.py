"""Adaptive concurrency: multiplicative decrease per round, additive increase after quiet.

These tests make every 429 count as pressure (``pressure_window=1``) to test the rounds; the
pressure rule itself is tested in ``test_rate_limit_pressure.py``."""

from __future__ import annotations

import anyio
import pytest

from chatsim.targets._adaptive import AdaptiveConcurrency, LimitChange
from chatsim.targets._policy import CallPolicy


def _adaptive(**kw: object) -> AdaptiveConcurrency:
    settings: dict[str, object] = {
        "max_concurrency": 64, "adaptive_quiet_period": 10.0, "pressure_window": 1, **kw
    }  # fmt: skip
    policy = CallPolicy(**settings)  # type: ignore[arg-type]
    return AdaptiveConcurrency(policy, now=0.0)


def test_one_cut_per_round_however_many_stale_429s() -> None:
    ctl = _adaptive()
    sent_in = ctl.generation
    for _ in range(64):  # a burst from 64 calls all sent at the old limit
        ctl.on_rate_limit(sent_in, now=1.0)
    assert ctl.limit == 32
    assert ctl.limiter.total_tokens == 32
    assert ctl.changes == [LimitChange(1.0, 64, 32, "rate_limit")]


def test_fresh_429s_cut_again_down_to_the_floor() -> None:
    ctl = _adaptive(min_concurrency=5)
    for step in range(10):
        ctl.on_rate_limit(ctl.generation, now=float(step))
    assert [c.new for c in ctl.changes] == [32, 16, 8, 5]
    assert ctl.limit == 5


def test_increase_needs_quiet_period_and_a_full_round() -> None:
    ctl = _adaptive(adaptive_increase=3)
    ctl.on_rate_limit(ctl.generation, now=0.0)  # 64 -> 32
    for _ in range(31):
        ctl.on_success(now=100.0)
    assert ctl.limit == 32  # quiet long enough, but not a full round yet
    ctl.on_success(now=100.0)
    assert ctl.limit == 35
    assert ctl.changes[-1] == LimitChange(100.0, 32, 35, "quiet_period")


def test_no_increase_inside_the_quiet_period() -> None:
    ctl = _adaptive()
    ctl.on_rate_limit(ctl.generation, now=0.0)
    for _ in range(1000):
        ctl.on_success(now=9.9)
    assert ctl.limit == 32


def test_a_fresh_429_restarts_the_quiet_period_and_the_round_a_stale_one_does_not() -> None:
    ctl = _adaptive(min_concurrency=32)  # at the floor after one cut: 429s cut no more
    ctl.on_rate_limit(ctl.generation, now=0.0)
    stale = ctl.generation - 1
    for _ in range(31):
        ctl.on_success(now=20.0)
    ctl.on_rate_limit(stale, now=20.0)  # sent before the cut: says nothing about 32
    ctl.on_success(now=20.0)
    assert ctl.limit == 33
    ctl.on_rate_limit(ctl.generation, now=21.0)  # fresh: back to the floor, and not quiet
    assert ctl.limit == 32
    for _ in range(100):
        ctl.on_success(now=25.0)
    assert ctl.limit == 32
    for _ in range(32):
        ctl.on_success(now=31.0)
    assert ctl.limit == 33


def test_never_above_the_maximum() -> None:
    ctl = _adaptive(adaptive_increase=100)
    ctl.on_rate_limit(ctl.generation, now=0.0)
    for _ in range(32):
        ctl.on_success(now=50.0)
    assert ctl.limit == 64
    for _ in range(1000):
        ctl.on_success(now=500.0)
    assert ctl.limit == 64


def test_disabled_keeps_the_limit() -> None:
    ctl = _adaptive(adaptive=False)
    for step in range(5):
        ctl.on_rate_limit(ctl.generation, now=float(step))
    assert ctl.limit == 64
    assert ctl.changes == []


@pytest.mark.anyio
async def test_lowered_limit_binds_new_acquirers_while_holders_finish() -> None:
    ctl = _adaptive(max_concurrency=4)
    holders = [object() for _ in range(4)]
    for h in holders:
        ctl.limiter.acquire_on_behalf_of_nowait(h)
    ctl.on_rate_limit(ctl.generation, now=0.0)  # 4 -> 2
    for h in holders[:3]:
        ctl.limiter.release_on_behalf_of(h)
    newcomer = object()
    ctl.limiter.acquire_on_behalf_of_nowait(newcomer)  # 1 held + 1 = 2: fits
    with pytest.raises(anyio.WouldBlock):
        ctl.limiter.acquire_on_behalf_of_nowait(object())
