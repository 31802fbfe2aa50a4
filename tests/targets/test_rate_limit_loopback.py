"""Rate buckets and the x-ratelimit header feed against the loopback server's enforced limits.

The server's one-minute windows run on the same fake clock as the caller, so minutes pass
in microseconds.
"""

from __future__ import annotations

import time

import pytest

from chatsim.targets._caller import CallPolicy, TargetCaller
from chatsim.targets._registry import ModelSpec, TargetSettings, available_adapters, create_adapter
from chatsim.testing import FakeClock
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_capacity import RateLimits

from .fakes import request

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        "openai" not in available_adapters(), reason="chatsim-openai is not installed"
    ),
]

KEY = "sk-loopback-rate-0123456789abcdef"


async def _run(calls: int, server_rpm: int, **policy: object) -> tuple[list[str], float, int]:
    """Outcomes of every attempt, total queue time, and requests the server saw."""
    clock = FakeClock(start=time.time())
    limits = RateLimits(requests_per_minute=server_rpm, enforce=True)
    async with LoopbackServer("ok", api_key=KEY, rate_limits=limits, clock=clock.now) as server:
        settings = TargetSettings(base_url=server.base_url, api_key=KEY)
        adapter = create_adapter(ModelSpec("openai", "m", "m"), settings)
        caller = TargetCaller(
            adapter,
            CallPolicy(jitter=0.0, **policy),  # type: ignore[arg-type]
            clock=clock,
            sleep=clock.sleep,
        )
        outcomes: list[str] = []
        queued = 0.0
        for _ in range(calls):
            reply = await caller.call(request())
            outcomes += [a.outcome for a in reply.attempts]
            queued += reply.queue_time
        await caller.aclose()
        return outcomes, queued, len(server.completion_requests)


async def test_request_bucket_below_the_server_limit_never_meets_a_429() -> None:
    outcomes, queued, seen = await _run(20, server_rpm=10, requests_per_minute=9)
    assert outcomes == ["ok"] * 20
    assert seen == 20
    assert queued == pytest.approx(19 * 60 / 9, rel=0.01)  # one burst token, then 1 per 6.67 s


async def test_header_feed_waits_for_the_reset_instead_of_earning_429s() -> None:
    # Our bucket believes 600/min; the server allows 5. Its headers close the bucket.
    outcomes, queued, seen = await _run(12, server_rpm=5, requests_per_minute=600)
    assert outcomes == ["ok"] * 12
    assert seen == 12
    assert queued > 60.0  # two window resets waited for


async def test_without_the_header_feed_the_server_refuses_and_retry_after_recovers() -> None:
    outcomes, _, seen = await _run(
        12, server_rpm=5, requests_per_minute=600, use_rate_limit_headers=False
    )
    assert outcomes.count("ok") == 12
    assert outcomes.count("rate_limit") >= 2
    assert seen == len(outcomes)
