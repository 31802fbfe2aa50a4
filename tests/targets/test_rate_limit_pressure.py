"""Rate-limit pressure: scattered 429s leave the limit and the other callers alone; an endpoint
over its quota is still cut down and paused (issue 15). All on the fake clock."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from chatsim import RateLimitError
from chatsim.targets._adaptive import AdaptiveConcurrency
from chatsim.targets._caller import TargetCaller
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest
from chatsim.targets._policy import CallPolicy
from chatsim.testing import FakeClock

from .fakes import request

OFF = {"pause_on_retry_after": False, "adaptive": False}


def _adaptive(**kw: object) -> AdaptiveConcurrency:
    return AdaptiveConcurrency(CallPolicy(max_concurrency=64, **kw), now=0.0)  # type: ignore[arg-type]


def test_scattered_429s_never_cut_the_limit() -> None:
    ctl = _adaptive()
    for i in range(2000):  # one in ten refused, evenly spread: 6-7 of any 64
        if i % 10 == 0:
            assert ctl.on_rate_limit(ctl.generation, now=float(i)) is False
        else:
            ctl.on_success(now=float(i), sent_in_generation=ctl.generation)
    assert ctl.limit == 64
    assert ctl.changes == []


def test_pressure_is_a_share_of_the_window_and_cuts_once_per_round() -> None:
    ctl = _adaptive(pressure_window=8, pressure_share=0.5)
    for _ in range(4):
        ctl.on_success(now=0.0, sent_in_generation=0)
    assert [ctl.on_rate_limit(0, now=1.0) for _ in range(4)] == [False, False, False, True]
    assert ctl.limit == 32  # 4 of the last 8 refused
    assert ctl.on_rate_limit(0, now=1.0) is False  # sent before the cut: stale, no evidence
    assert [ctl.on_rate_limit(1, now=2.0) for _ in range(4)] == [False, False, False, True]
    assert ctl.limit == 16  # four refusals of attempts sent under 32: cut again


def test_without_adaptive_pressure_still_reports_for_the_pause() -> None:
    ctl = _adaptive(adaptive=False, pressure_window=4, pressure_share=0.5)
    assert [ctl.on_rate_limit(0, now=0.0) for _ in range(3)] == [False, True, True]
    assert ctl.limit == 64


def test_a_lowered_limit_recovers_after_a_quiet_period_despite_scattered_429s() -> None:
    ctl = _adaptive(pressure_window=4, pressure_share=0.5, adaptive_quiet_period=10.0)
    ctl.on_rate_limit(0, now=0.0)
    ctl.on_rate_limit(0, now=0.0)  # 64 -> 32
    for i in range(40):  # a 429 now and then, never two in four
        if i % 5 == 0:
            ctl.on_rate_limit(ctl.generation, now=11.0)
        else:
            ctl.on_success(now=11.0, sent_in_generation=ctl.generation)
    assert ctl.limit == 33


class QuotaAdapter(TargetAdapter):
    """A server allowing ``per_window`` requests per ``window`` seconds of the fake clock; the
    rest get 429 with ``Retry-After`` until the window ends (as OpenAI's limits answer)."""

    name = "quota"

    def __init__(self, clock: FakeClock, per_window: int, window: float = 60.0) -> None:
        self.clock, self.per_window, self.window = clock, per_window, window
        self.start = clock.now()
        self.current, self.used = 0, 0
        self.refused = 0

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        await anyio.lowlevel.checkpoint()
        elapsed = self.clock.now() - self.start
        index = int(elapsed // self.window)
        if index != self.current:
            self.current, self.used = index, 0
        if self.used >= self.per_window:
            self.refused += 1
            wait = (index + 1) * self.window - elapsed
            raise RateLimitError("429", status_code=429, headers={"retry-after": f"{wait:g}"})
        self.used += 1
        return AdapterReply(text="ok")


async def _quota_run(**policy: object) -> int:
    clock = FakeClock()
    adapter = QuotaAdapter(clock, per_window=10)
    settings = {"max_concurrency": 32, "max_attempts": 50, "max_total_wait": 1e6, "jitter": 0.0}
    caller = TargetCaller(
        adapter,
        CallPolicy(**{**settings, **policy}),
        clock=clock,
        sleep=clock.sleep,  # type: ignore[arg-type]
    )

    async def user() -> None:
        for _ in range(4):
            await caller.call(request())

    async with anyio.create_task_group() as tg:
        for _ in range(32):
            tg.start_soon(user)
    return adapter.refused


@pytest.mark.anyio
async def test_policies_protect_an_endpoint_over_its_quota() -> None:
    on, off = await _quota_run(), await _quota_run(**OFF)
    assert on * 3 < off  # 75 vs 342 refusals at the time of writing
