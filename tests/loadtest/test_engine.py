"""The load generator: arrivals on schedule, closed loops kept full, think time, bounds."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from chatsim._util._clock import MonotonicWallClock
from chatsim.loadtest import (
    LiveStats,
    LoadEngine,
    LoadTestConfig,
    ThinkingTurnSource,
    arrival_offsets,
)
from chatsim.protocol import Role
from chatsim.recording import EpisodeRecord
from chatsim.runner import derive_seed
from chatsim.simulators import TurnSource, UserTurnRequest
from chatsim.simulators._registry import DirectTurnSource
from chatsim.targets import TargetAdapter
from chatsim.testing import FakeClock, ScriptedSimulator

from .helpers import QUESTIONS, CountingTarget, answer_after, caller, config, load_extra

pytestmark = pytest.mark.anyio


async def _run(
    cfg: LoadTestConfig,
    target: TargetAdapter,
    clock: Any,
    *,
    policy: Callable[[UserTurnRequest], str] | None = None,
    sleep: Any = None,
) -> tuple[LoadEngine, list[EpisodeRecord]]:
    stats = LiveStats(window=cfg.window)
    records: list[EpisodeRecord] = []
    source: TurnSource = DirectTurnSource(ScriptedSimulator(policy or answer_after(1)))
    if cfg.think_time:
        source = ThinkingTurnSource(
            source, cfg.think_time, cfg.think_distribution, clock=clock, sleep=sleep
        )
    engine = LoadEngine(
        cfg, run_id="r", simulator_spec="scripted", questions=QUESTIONS,
        caller=caller(target, cfg, clock, stats), source=source, sink=records.append,
        clock=clock, stats=stats, sleep=sleep,
    )  # fmt: skip
    await engine.run()
    return engine, records


async def test_open_loop_poisson_arrivals_follow_the_seeded_schedule() -> None:
    time = FakeClock()
    cfg = config(rate=40.0, duration=10.0, seed=5)
    engine, records = await _run(cfg, CountingTarget(), time, sleep=time.sleep)
    (stage,) = engine.stages
    expected = list(
        itertools.takewhile(
            lambda t: t < 10.0,
            arrival_offsets(40.0, seed=derive_seed(5, "arrivals", 0)),
        )
    )
    # Every arrival happened, at its scheduled time, whatever the conversations did.
    assert stage.arrivals == len(records) == len(expected)
    assert abs(len(records) - 400) < 4 * 20  # Poisson: sd sqrt(400)
    scheduled = sorted(load_extra(r)["scheduled_at"] - stage.started_at for r in records)
    assert scheduled == pytest.approx(expected, abs=1e-6)  # epoch-sized floats
    assert {load_extra(r)["stage"] for r in records} == {0}
    assert len({r.episode_id for r in records}) == len(records)
    assert stage.window_end == pytest.approx(stage.started_at + 10.0)


async def test_open_loop_conversation_count_bounds_a_stage() -> None:
    time = FakeClock()
    cfg = config(rate=100.0, conversations=7, arrival="constant")
    engine, records = await _run(cfg, CountingTarget(), time, sleep=time.sleep)
    assert engine.stages[0].arrivals == len(records) == 7
    offsets = sorted(load_extra(r)["scheduled_at"] - engine.stages[0].started_at for r in records)
    assert offsets == pytest.approx([i / 100 for i in range(7)], abs=1e-6)


async def test_sweep_runs_one_stage_per_load_in_increasing_order() -> None:
    time = FakeClock()
    cfg = config(sweep=(20.0, 10.0), duration=1.0, arrival="constant")
    engine, records = await _run(cfg, CountingTarget(), time, sleep=time.sleep)
    assert [(s.index, s.load, s.arrivals) for s in engine.stages] == [(0, 10.0, 10), (1, 20.0, 20)]
    assert sum(1 for r in records if load_extra(r)["stage"] == 1) == 20


async def test_closed_loop_keeps_every_user_in_a_conversation() -> None:
    target = CountingTarget(delay=0.02)
    cfg = config(mode="closed", users=8, duration=0.4, bucket=0.05)
    engine, records = await _run(cfg, target, MonotonicWallClock(), policy=answer_after(2))
    (stage,) = engine.stages
    assert target.max_in_flight == 8
    assert stage.window_end is not None
    inside = [
        s.in_flight
        for s in engine.stats.samples
        if stage.started_at + 0.05 < s.t < stage.window_end - 0.01
    ]
    assert inside and all(n == 8 for n in inside)
    # Each user ran conversations back to back: the next one was scheduled as one ended.
    by_user: dict[int, list[EpisodeRecord]] = {}
    for r in records:
        by_user.setdefault(load_extra(r)["user"], []).append(r)
    assert sorted(by_user) == list(range(8))
    for mine in by_user.values():
        mine.sort(key=lambda r: r.started_at)
        for before, after in itertools.pairwise(mine):
            assert load_extra(after)["scheduled_at"] >= before.ended_at - 1e-6
            # Wall-clock: a busy 2-core CI box can hold the loop for tens of ms, so the bound
            # is loose; a closed loop that waited for an arrival schedule would be far later.
            assert load_extra(after)["scheduled_at"] - before.ended_at < 0.1


async def test_closed_loop_conversation_count_is_shared_by_the_users() -> None:
    time = FakeClock()
    cfg = config(mode="closed", users=3, conversations=7)
    engine, records = await _run(cfg, CountingTarget(), time, sleep=time.sleep)
    assert engine.stages[0].arrivals == len(records) == 7


async def test_think_time_separates_a_reply_from_the_next_turn() -> None:
    time = FakeClock()
    cfg = config(mode="closed", users=1, conversations=2, think_time=2.0)
    _, records = await _run(cfg, CountingTarget(), time, policy=answer_after(2), sleep=time.sleep)
    assert len(records) == 2
    pauses = 0
    for record in records:
        for before, turn in itertools.pairwise(record.turns):
            if turn.role is Role.USER:  # every user turn after the first one
                assert turn.started_at - before.ended_at == pytest.approx(2.0)
                assert turn.requested_at == pytest.approx(before.ended_at)
                pauses += 1
        # The pause is not simulator time.
        assert all(t.ended_at - t.started_at == 0 for t in record.turns if t.role is Role.USER)
    assert pauses == 4 and time.sleeps.count(2.0) == 4


async def test_drain_timeout_abandons_what_is_still_running() -> None:
    target = CountingTarget(delay=1.0)
    cfg = config(rate=50.0, duration=0.1, arrival="constant", drain_timeout=0.05)
    engine, records = await _run(cfg, target, MonotonicWallClock())
    (stage,) = engine.stages
    assert records == []
    assert stage.arrivals == stage.abandoned == 5 == engine.stats.abandoned
    assert engine.stats.in_flight == 0 and engine.stats.calls_in_flight == 0


async def test_max_in_flight_makes_arrivals_late_not_lost() -> None:
    target = CountingTarget(delay=0.05)
    cfg = config(rate=100.0, conversations=6, arrival="constant", max_in_flight=2)
    _, records = await _run(cfg, target, MonotonicWallClock())
    assert len(records) == 6 and target.max_in_flight == 2
    lags = sorted(r.started_at - load_extra(r)["scheduled_at"] for r in records)
    # Pairs start every 50 ms but are scheduled every 10 ms: the last ones start late.
    assert lags[0] < 0.02 and lags[-1] > 0.05
