"""``chatsim loadtest --ray``: the driver, which spreads each stage over Ray load workers and is
the run directory's only writer.

Per stage the driver picks one start time ``START_LEAD`` seconds ahead on its clock; every
worker sleeps until it on its own clock, corrected by the offset the driver measured before
the run (the reading with the shortest of a few round trips, as NTP does: error at most half
that round trip, well under a millisecond on one machine). Workers take every N-th arrival of
the one seeded schedule (open loop) or every N-th user (closed loop), so together they offer
the load one process would; the next stage starts when every worker has finished this one.
The driver appends records as batches arrive, keeps the live view from the workers' reports,
and writes ``load_summary.json`` from the records on disk, as in one process.

An ``hf:`` simulator runs as ``run --ray`` runs it: the driver checks its spec and options
without loading the model, and plays it on GPU actors that every load worker calls
(``_ray_simulators``).
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from chatsim._exceptions import AuthenticationError, ChatsimError, ConfigError
from chatsim._logging import get_logger
from chatsim._util._clock import MonotonicWallClock
from chatsim.config import LoadTestConfig
from chatsim.distributed._placement import placed
from chatsim.distributed._ray import (
    DEFAULT_SCHEDULE_TIMEOUT,
    check_address,
    connect,
    import_ray,
    schedule_timeout,
    worker_environment,
)
from chatsim.distributed._simulators import SimulatorActors
from chatsim.distributed._worker import worker_count
from chatsim.loadtest._api import LoadTestResult
from chatsim.loadtest._live import LiveView
from chatsim.loadtest._live_stats import LiveStats
from chatsim.loadtest._merge import MergedLag, MergedStats, merge_stage_runs
from chatsim.loadtest._ray_simulators import free_workers, simulator_actors
from chatsim.loadtest._ray_worker import LoadWorker, Report
from chatsim.loadtest._setup import (
    load_call_policy,
    load_header,
    load_simulator_settings,
    observed_caller,
    simulator_for,
    write_load_summary,
)
from chatsim.loadtest._stage import StageRun
from chatsim.questions import load_questions
from chatsim.recording import EPISODES_FILE, EpisodeWriter, RunHeader, create_run_dir
from chatsim.simulators._registry import create_remote_simulator, runs_on_actors

__all__ = ["LOAD_WORKER_RESOURCES", "START_LEAD", "run_loadtest_on_ray"]

LOAD_WORKER_RESOURCES = {"CPU": 1.0}
"""What each load worker asks Ray for."""

_log = get_logger("chatsim.loadtest")

START_LEAD = 0.25
"""Seconds between choosing a stage's start and the start: time for ``begin`` to reach every
worker (a late one would start its arrivals late, and its start lag would show it)."""
_PINGS = 5


async def run_loadtest_on_ray(
    config: LoadTestConfig,
    *,
    out_dir: Path,
    run_id: str,
    ray: str,
    workers: int | None,
    live: Console | None,
    handle_signals: bool,
) -> LoadTestResult:
    """``run_loadtest`` over Ray workers; raises what it raises."""
    check_address(ray, workers)
    place_within = schedule_timeout()  # checked by check_address: a bad value wrote nothing
    await _check(config)
    run_dir = out_dir / run_id
    clock = MonotonicWallClock()
    env_vars = worker_environment([config.model], config.simulator)  # for auto / ray:// only
    with connect(ray, workers, env_vars=env_vars) as cpus:
        async with simulator_actors(config, place_within) as actors:
            count = _worker_count(config, workers or free_workers(cpus, actors))
            driver = _Driver(config, run_id, run_dir, count, clock, actors, place_within)
            await driver.run(load_header(config, run_id, clock), live, handle_signals)
    interrupted = driver.interrupted or driver.auth_error is not None
    summary = write_load_summary(
        config, run_dir, run_id, driver.stages, driver.stats.live.samples,
        driver.lag.samples(), interrupted,
    )  # fmt: skip
    if driver.auth_error is not None:
        raise AuthenticationError(driver.auth_error)
    return LoadTestResult(run_dir, summary, interrupted)


def _worker_count(config: LoadTestConfig, wanted: int) -> int:
    """``wanted``, but no more workers than the in-flight cap and the target's concurrency have
    slots for (one each at least: ``worker_count``)."""
    budgets = [config.max_in_flight, load_call_policy(config).max_concurrency]
    count = worker_count(wanted, budgets)
    if count < wanted:
        _log.warning(
            "fewer load workers than asked: each needs a call slot", asked=wanted, workers=count
        )
    return count


async def _check(config: LoadTestConfig) -> None:
    """What one process checks before its run directory exists: questions, target, simulator
    (an ``hf:`` one by its spec and options only: its model loads on the actors)."""
    if not load_questions(config.source, selection=config.selection):
        raise ConfigError(f"no questions selected from {config.source!r}")
    clock = MonotonicWallClock()
    caller = observed_caller(config, load_call_policy(config), clock, LiveStats())
    if runs_on_actors(config.simulator):
        backend = create_remote_simulator(config.simulator, load_simulator_settings(config))
    else:
        backend, _ = simulator_for(config, config.simulator, clock)
    await caller.aclose()
    await backend.aclose()


async def _all(refs: Iterable[Any]) -> None:
    """Await remote calls sent all at once (one round trip, not one per worker)."""
    for ref in list(refs):  # every call is sent before the first is awaited
        await ref


class _Driver:
    def __init__(
        self,
        config: LoadTestConfig,
        run_id: str,
        run_dir: Path,
        count: int,
        clock: Any,
        simulators: SimulatorActors | None = None,
        place_within: float = DEFAULT_SCHEDULE_TIMEOUT,
    ) -> None:
        self.config, self.run_id, self.run_dir, self.count = config, run_id, run_dir, count
        self.clock = clock
        self.simulators = simulators
        self.place_within = place_within
        self.stats = MergedStats(count, config.window)
        self.lag = MergedLag(now=clock.now)
        self.stages: list[StageRun] = []
        self.interrupted = False
        self.auth_error: str | None = None
        self.handles: list[Any] = []
        self.running = False

    async def run(self, header: RunHeader, live: Console | None, handle_signals: bool) -> None:
        """Start the workers, wait for the simulator actors' models (the workers start while
        they load), create the run directory (``header``) and run every stage."""
        ray = import_ray()
        actor = ray.remote(num_cpus=LOAD_WORKER_RESOURCES["CPU"])(LoadWorker)
        config = self.config.model_dump(mode="json")
        self.handles = [
            actor.remote(config, self.run_id, i, self.count, self.simulators)
            for i in range(self.count)
        ]
        try:
            if self.simulators is not None:
                await self.simulators.loaded()  # a model that fails to load leaves no run dir
            create_run_dir(self.run_dir, header)
            writer = EpisodeWriter(self.run_dir / EPISODES_FILE).open()
            try:
                await self._serve(writer, live, handle_signals)
            except* ChatsimError as group:  # a worker not placed or not started: as it is
                raise group.exceptions[0] from None
            finally:
                writer.close()
        finally:
            for handle in self.handles:
                ray.kill(handle)

    async def _serve(
        self, writer: EpisodeWriter, live: Console | None, handle_signals: bool
    ) -> None:
        """The workers started, then every stage, under the signal watcher and live view."""
        async with anyio.create_task_group() as group:
            if handle_signals:  # from the start: actors take seconds to come up
                group.start_soon(self._watch_signals, group.cancel_scope)
            serving = await self._start()
            self.running = True
            group.start_soon(self._sampler)
            if live is not None:
                view = LiveView(live, self.stats.live, self.lag, self.config, self.clock)
                group.start_soon(view.run)
            await self._stages(writer)
            await _all(h.stop.remote() for h in self.handles)
            await _all(serving)
            group.cancel_scope.cancel()

    async def _start(self) -> list[Any]:
        """Every worker up, its clock offset measured, its simulator open."""
        for i, handle in enumerate(self.handles):  # placed, or ActorNotPlaced (never a hang)
            what = f"load worker {i} of {self.count}"
            await placed(handle.clock_now.remote(), what, LOAD_WORKER_RESOURCES, self.place_within)
        serving = [h.serve.remote(await self._shift(h)) for h in self.handles]
        for handle in self.handles:
            if (error := await handle.wait_ready.remote()) is not None:
                raise ChatsimError(f"a load worker could not start: {error}")
        _log.info("ray load test started", workers=self.count)
        return serving

    async def _shift(self, handle: Any) -> float:
        """How far ``handle``'s clock runs ahead of the driver's (the first ping also waits
        for the actor to start; the shortest round trip gives the best reading)."""
        best_rtt, shift = math.inf, 0.0
        for _ in range(_PINGS):
            sent = self.clock.now()
            theirs = await handle.clock_now.remote()
            back = self.clock.now()
            if back - sent < best_rtt:
                best_rtt, shift = back - sent, theirs - (sent + back) / 2
        return shift

    async def _stages(self, writer: EpisodeWriter) -> None:
        base = 0
        for index, load in enumerate(self.config.loads()):
            if self.interrupted or self.auth_error is not None:
                break
            start = self.clock.now() + START_LEAD
            await _all(h.begin.remote(index, load, start, base) for h in self.handles)
            parts: list[StageRun | None] = [None] * self.count
            async with anyio.create_task_group() as group:
                for worker in range(self.count):
                    group.start_soon(self._follow, worker, parts, writer)
                await anyio.sleep(max(0.0, start - self.clock.now()))
                self.stats.live.stage, self.stats.live.load = index, load
                self.stats.sample(start)
            stage = merge_stage_runs([p for p in parts if p is not None])
            self.stages.append(stage)
            self.stats.sample(self.clock.now())
            base += stage.numbers

    async def _follow(self, worker: int, parts: list[StageRun | None], writer: Any) -> None:
        """One worker's reports until it has finished the stage."""
        while parts[worker] is None:
            report: Report = await self.handles[worker].report.remote()
            for record in report.records:
                writer.append(record)
            self.stats.update(worker, report.counters, report.rss, report.recent)
            self.lag.add(report.lag_times, report.lag_values)
            if report.auth_error is not None and self.auth_error is None:
                self.auth_error = report.auth_error  # the key was refused: stop everyone
                await self._halt()
            parts[worker] = report.stage

    async def _halt(self) -> None:
        await _all(h.halt.remote() for h in self.handles)

    async def _sampler(self) -> None:
        while True:
            await anyio.sleep(self.config.bucket)
            self.stats.sample(self.clock.now())

    async def _watch_signals(self, setup: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.interrupted = True
                if self.running:
                    await self._halt()  # the stage ends; its records and summary are kept
                else:
                    setup.cancel()  # still starting the workers: nothing ran
                return
