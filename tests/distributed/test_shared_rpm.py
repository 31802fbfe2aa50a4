"""A shared ``--rpm`` budget holds across Ray workers: the requests the loopback server
received, counted per window, never exceed what the budget allows (its rate, plus the
limiter's documented burst: a full bucket holds ``burst_seconds`` of the rate).

And each worker re-shares its budget as the live workers change (in place, without Ray)."""

from __future__ import annotations

import bisect
from importlib.util import find_spec
from pathlib import Path

import pytest

import chatsim
from chatsim.config import RunConfig
from chatsim.distributed._worker import EpisodeWorker
from chatsim.testing import LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = pytest.mark.anyio

RPM = 1200.0  # 20 requests a second for the whole run
BURST_SECONDS = 0.25
"""Small, so the rate (not two full buckets) is what a window shows."""
WINDOW = 1.0
SLACK = 0.5
"""Seconds a request may take from the limiter to the server's clock (a busy box): a window
of arrivals holds what the limiters let go in a window this much longer."""


def _most_in_a_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


@needs_ray
@pytest.mark.usefixtures("local_ray")
async def test_two_workers_keep_to_one_shared_rpm_budget(tmp_path: Path) -> None:
    async with LoopbackServer(ReplyScript("I think it is A.")) as server:  # replies at once
        await chatsim.evaluate(
            "vllm:assistant",
            "college_math",
            simulator="scripted",
            limit=9,
            repeats=4,
            concurrency=16,  # slots to spare: the rpm budget is what holds the pace
            # A small window per worker spreads the episodes over both once both are up, so
            # they overlap for most of the run (a worker alone on the whole rate is no test).
            max_episodes_in_flight=4,
            policy={"requests_per_minute": RPM, "burst_seconds": BURST_SECONDS},
            base_url=server.base_url,
            out_dir=tmp_path,
            run_id="rpm",
            ray="local",
            workers=2,
        )
        arrivals = [r.received_at for r in server.requests if r.endpoint == "chat"]
    rate = RPM / 60
    # Each worker's bucket: rate/2, holding at most burst_seconds of it; together, in any
    # window, at most both full buckets plus the whole rate over the window.
    allowed = rate * BURST_SECONDS + rate * (WINDOW + SLACK)
    # Enough requests that the budget had to hold them back (the scripted user is seeded: the
    # count is the same every run: 72).
    assert len(arrivals) > 1.5 * allowed
    # Measured here: at most 22-23 in a window (bound 35); with each worker on the whole
    # budget (no share), 46-48.
    assert _most_in_a_window(arrivals, WINDOW) <= allowed


async def test_a_worker_reshares_its_budget_as_the_live_workers_change() -> None:
    config = RunConfig(
        models=["vllm:assistant"],
        base_url="http://127.0.0.1:9/v1",
        simulator="prompted:vllm:user",
        simulator_base_url="http://127.0.0.1:8/v1",
        concurrency=8,
        policy={"requests_per_minute": 600, "simulator.requests_per_minute": 300},
    )
    worker = EpisodeWorker(config.model_dump(mode="json"), "reshare", workers=2)
    target = worker.callers["vllm:assistant"]
    (user,) = [caller for _, caller in worker.pool if caller is not target]
    user_slots = user.policy.max_concurrency
    try:
        assert target.policy.requests_per_minute == 300
        assert target.policy.max_concurrency == 4
        assert user.policy.requests_per_minute == 150  # the simulator's quota is shared too
        worker.reshare(1)  # the other worker finished: this one takes the whole budget
        assert target.policy.requests_per_minute == 600
        assert (target.concurrency.maximum, target.concurrency.limit) == (8, 8)
        assert target.limits.requests is not None and target.limits.requests.rate == 10
        assert user.policy.requests_per_minute == 300
        worker.reshare(4)  # two more joined
        assert target.policy.requests_per_minute == 150
        assert target.concurrency.limit == 2
        # The simulator's own endpoint keeps its slots: its episodes in flight bound them.
        assert user.policy.max_concurrency == user_slots
    finally:
        await worker.pool.aclose()
