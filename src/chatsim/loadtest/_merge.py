"""Putting the workers' parts of a load test back together, on the driver (pure, no Ray).

Nothing here averages figures the workers computed: a stage's arrivals, scheduled times and
CPU are added up, and the latency percentiles of the summary are recomputed from the union of
every call's raw timings in the records (``build_load_summary``), as in one process. The live
counters are the sum of each worker's latest report; the lag samples are every worker's raw
samples (a busy worker shows in the p99, however idle the others are).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np

from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live_stats import COUNTERS, LiveStats, Recent, Sample
from chatsim.loadtest._stage import StageRun

__all__ = ["MergedLag", "MergedStats", "lost_part", "merge_stage_runs"]


def merge_stage_runs(parts: Sequence[StageRun]) -> StageRun:
    """One stage from its workers' parts (all started at the same, shared time)."""
    if not parts:
        raise ValueError("a stage needs at least one part")
    first = parts[0]
    ends = [p.ended_at for p in parts if p.ended_at is not None]
    windows = [p.window_end for p in parts if p.window_end is not None]
    scheduled = sorted(t for p in parts for t in p.scheduled)
    return StageRun(
        index=first.index,
        load=first.load,
        started_at=min(p.started_at for p in parts),
        window_end=max(windows) if windows else None,
        ended_at=max(ends) if ends else None,
        arrivals=sum(p.arrivals for p in parts),
        abandoned=sum(p.abandoned for p in parts),
        scheduled=array("d", scheduled),
        cpu_seconds=sum(p.cpu_seconds for p in parts),
        numbers=max(p.numbers for p in parts),
        workers=sum(p.workers for p in parts),
        busiest_cpu_seconds=max(_busiest(p) for p in parts),
    )


def lost_part(
    index: int,
    load: float,
    started_at: float,
    ended_at: float,
    arrivals: int,
    recorded: array[float],
) -> StageRun:
    """The part of a stage that a worker lost mid-stage held, from what reached the driver:
    ``arrivals`` (its counters' rise since the start, as of its last report) and the scheduled
    times of the conversations it ``recorded``. The rest of its arrivals were abandoned (they
    never reached the records); its CPU time died with it (0 here)."""
    arrivals = max(arrivals, len(recorded))
    return StageRun(
        index=index, load=load, started_at=started_at, window_end=ended_at, ended_at=ended_at,
        arrivals=arrivals, abandoned=arrivals - len(recorded), scheduled=array("d", recorded),
    )  # fmt: skip


def _busiest(part: StageRun) -> float:
    return part.cpu_seconds if part.busiest_cpu_seconds is None else part.busiest_cpu_seconds


_ARRIVALS = COUNTERS.index("arrivals")


class MergedStats:
    """The driver's ``LiveStats``: each worker's latest counters, added up."""

    def __init__(self, workers: int, window: float) -> None:
        self.live = LiveStats(window=window)
        self._counters = [(0,) * len(COUNTERS) for _ in range(workers)]
        self._rss: list[int | None] = [None] * workers

    def update(
        self, worker: int, counters: tuple[int, ...], rss: int | None, recent: list[Recent]
    ) -> None:
        self._counters[worker] = counters
        self._rss[worker] = rss
        self.live.set_counters(tuple(int(v) for v in np.sum(self._counters, axis=0)))
        self.live.add_recent(recent)

    def arrivals(self, worker: int) -> int:
        """Conversations ``worker`` has started in the whole run, as of its latest report."""
        return self._counters[worker][_ARRIVALS]

    def sample(self, now: float) -> Sample:
        """Record the summed counters at ``now``; memory is the workers' resident sum."""
        live = self.live
        known = [r for r in self._rss if r is not None]
        point = Sample(
            now, live.stage, live.arrivals, live.in_flight, live.calls_in_flight,
            sum(known) if known else None,
        )  # fmt: skip
        live.samples.append(point)
        return point


class MergedLag(LagMonitor):
    """Every worker's lag samples (never ``run`` on the driver: its own loop is not the one
    timing calls). Samples arrive out of time order across workers: windows use a mask."""

    def add(self, times: array[float], lags: array[float]) -> None:
        self.times.extend(times)
        self.lags.extend(lags)

    def recent(self, seconds: float, now: float) -> np.ndarray:
        return self.between(now - seconds, np.inf)

    def between(self, start: float, end: float) -> np.ndarray:
        times, lags = self.samples()
        keep = (times >= start) & (times < end)
        values: np.ndarray = lags[keep]
        return values
