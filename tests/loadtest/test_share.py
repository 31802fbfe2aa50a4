"""Several load generators (Ray workers) share one stage: together they offer what one process
would, and the driver merges their parts by adding raw figures, never by averaging results."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from chatsim.loadtest import LiveStats, LoadEngine, LoadTestConfig, Share, StageRun
from chatsim.loadtest._build import build_load_summary
from chatsim.loadtest._extract import extract
from chatsim.loadtest._merge import MergedLag, MergedStats, merge_stage_runs
from chatsim.recording import EpisodeRecord
from chatsim.simulators._registry import DirectTurnSource
from chatsim.testing import FakeClock, ScriptedSimulator

from .helpers import QUESTIONS, CountingTarget, answer_after, caller, config, load_extra

pytestmark = pytest.mark.anyio

START = 1_700_000_100.0


async def _stages(cfg: LoadTestConfig, share: Share) -> tuple[list[StageRun], list[EpisodeRecord]]:
    """Every stage of ``cfg`` for ``share``, each from a given start (as the Ray driver does)."""
    time = FakeClock()
    stats = LiveStats()
    records: list[EpisodeRecord] = []
    engine = LoadEngine(
        cfg, run_id="r", simulator_spec="scripted", questions=QUESTIONS,
        caller=caller(CountingTarget(time=time, delay=0.3), cfg, time, stats),
        source=DirectTurnSource(ScriptedSimulator(answer_after(1))), sink=records.append,
        clock=time, stats=stats, sleep=time.sleep, share=share,
    )  # fmt: skip
    base = 0
    for index, load in enumerate(cfg.loads()):
        stage = await engine.run_stage(index, load, start_at=START + 100 * index, base=base)
        base += stage.numbers
    return engine.stages, records


def _plan(records: list[EpisodeRecord]) -> list[tuple[str, int, float]]:
    return sorted(
        (r.episode_id, load_extra(r)["conversation"], load_extra(r)["scheduled_at"])
        for r in records
    )


@pytest.mark.parametrize(
    "values",
    [
        {"rate": 30.0, "duration": 2.0, "seed": 4},  # Poisson, bounded by time
        {"sweep": (10.0, 25.0), "conversations": 13, "arrival": "constant"},  # by count
    ],
)
async def test_open_loop_shares_plan_the_conversations_of_one_process(
    values: dict[str, object],
) -> None:
    cfg = config(**values)
    alone, expected = await _stages(cfg, Share())
    parts = [await _stages(cfg, Share(i, 3)) for i in range(3)]
    records = [r for _, mine in parts for r in mine]
    assert _plan(records) == _plan(expected)  # same ids, numbers and scheduled times
    for index, stage in enumerate(alone):
        merged = merge_stage_runs([stages[index] for stages, _ in parts])
        assert merged.arrivals == stage.arrivals and merged.numbers == stage.numbers
        assert list(merged.scheduled) == sorted(stage.scheduled)
        assert merged.started_at == stage.started_at and merged.workers == 3
    # Arrival k of a stage went to worker k mod 3.
    first = {}
    for r in expected:
        stage_of = load_extra(r)["stage"]
        first[stage_of] = min(first.get(stage_of, 1 << 30), load_extra(r)["conversation"])
    for i, (_, mine) in enumerate(parts):
        positions = {load_extra(r)["conversation"] - first[load_extra(r)["stage"]] for r in mine}
        assert {k % 3 for k in positions} == {i}


async def test_closed_loop_shares_split_users_and_count_with_unique_ids() -> None:
    cfg = config(mode="closed", sweep=(3.0, 5.0), conversations=11)
    alone, _ = await _stages(cfg, Share())
    parts = [await _stages(cfg, Share(i, 2)) for i in range(2)]
    records = [r for _, mine in parts for r in mine]
    assert len(records) == 22 and len({r.episode_id for r in records}) == 22
    users = {(load_extra(r)["stage"], load_extra(r)["user"]) for r in records}
    assert users == {(0, u) for u in range(3)} | {(1, u) for u in range(5)}
    for index in range(2):
        merged = merge_stage_runs([stages[index] for stages, _ in parts])
        assert merged.arrivals == alone[index].arrivals == 11


def test_a_share_of_a_count_adds_up_to_it() -> None:
    assert [Share(i, 4).part(10) for i in range(4)] == [3, 3, 2, 2]
    assert Share(1, 4).part(None) is None
    with pytest.raises(ValueError, match="does not exist"):
        Share(2, 2)


def _part(cpu: float, arrivals: int, ended: float) -> StageRun:
    return StageRun(
        0, 10.0, started_at=0.0, window_end=1.0, ended_at=ended, arrivals=arrivals,
        scheduled=array("d", [0.5] * arrivals), cpu_seconds=cpu, numbers=arrivals,
    )  # fmt: skip


def test_merged_cpu_is_the_sum_and_busy_is_judged_on_the_busiest_worker() -> None:
    merged = merge_stage_runs([_part(0.9, 3, 1.0), _part(0.1, 2, 1.0)])
    assert merged.cpu_seconds == pytest.approx(1.0) and merged.busiest_cpu_seconds == 0.9
    assert (merged.arrivals, merged.workers, merged.ended_at) == (5, 2, 1.0)
    empty = extract([])
    summary = build_load_summary(config(rate=10.0, duration=1.0), run_id="r", stages=[merged],
                                 conversations=empty[0], calls=empty[1])  # fmt: skip
    (stage,) = summary.stages
    assert stage.client_cpu == pytest.approx(1.0) and stage.client_busy  # one worker at 90%
    calm = merge_stage_runs([_part(0.5, 1, 1.0), _part(0.5, 1, 1.0)])
    summary = build_load_summary(config(rate=10.0, duration=1.0), run_id="r", stages=[calm],
                                 conversations=empty[0], calls=empty[1])  # fmt: skip
    assert summary.stages[0].client_cpu == pytest.approx(1.0)
    assert not summary.stages[0].client_busy  # two half-busy workers: neither measures itself


def test_driver_counters_are_the_sum_of_each_workers_latest_report() -> None:
    stats = MergedStats(2, window=10.0)
    stats.update(0, (5, 2, 3, 0, 0, 9, 1, 2), 100, [(1.0, 0.1, 0.2)])
    stats.update(1, (4, 1, 3, 1, 0, 7, 0, 1), 50, [(1.5, np.nan, 0.3)])
    stats.update(0, (6, 2, 4, 0, 0, 10, 1, 2), 120, [])  # a newer report replaces the older
    live = stats.live
    assert (live.arrivals, live.in_flight, live.completed, live.calls) == (10, 3, 7, 17)
    point = stats.sample(2.0)
    assert (point.arrivals, point.in_flight, point.calls_in_flight, point.rss) == (10, 3, 3, 170)
    ttft, e2e = live.recent_latency(2.0)
    assert ttft.tolist() == [0.1] and e2e.tolist() == [0.2, 0.3]


def test_merged_lag_keeps_every_workers_raw_samples() -> None:
    lag = MergedLag()
    lag.add(array("d", [1.0, 2.0]), array("d", [0.001, 0.002]))
    lag.add(array("d", [1.5]), array("d", [0.05]))  # another worker, out of time order
    assert sorted(lag.recent(0.6, 2.0).tolist()) == [0.002, 0.05]
    assert lag.between(1.0, 1.6).tolist() == [0.001, 0.05]
    times, values = lag.samples()
    assert times.tolist() == [1.0, 2.0, 1.5] and values.size == 3
