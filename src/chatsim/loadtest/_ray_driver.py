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

A load worker that can no longer run (its process or node gone, its stage task or ``serve``
raising, a call to it failing) fails the run at once, as a ``ChatsimError`` naming it
(``_ray_errors``): the others are halted, the stage so far is kept (the lost worker's part
as far as its reports reached the driver), and the summary is written, marked interrupted.
Every call the driver awaits on a worker either returns, or raises that error: none waits
for a worker that is gone. A worker alive but silent (no report, or no answer to a stage's
``begin``, for ``SILENT_SECONDS``) is lost too, and ended; no wait on the workers (``halt``,
``stop``) outlasts that bound.

An ``hf:`` simulator runs as ``run --ray`` runs it: the driver checks its spec and options
without loading the model, and plays it on GPU actors that every load worker calls
(``_ray_simulators``).
"""

from __future__ import annotations

import contextlib
import math
import signal
from array import array
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from chatsim._exceptions import ChatsimError
from chatsim._logging import get_logger
from chatsim.config import LoadTestConfig
from chatsim.distributed._placement import placed
from chatsim.distributed._ray import (
    DEFAULT_SCHEDULE_TIMEOUT,
    import_ray,
)
from chatsim.distributed._simulators import SimulatorActors
from chatsim.loadtest._live import LiveView
from chatsim.loadtest._merge import MergedLag, MergedStats, lost_part, merge_stage_runs
from chatsim.loadtest._ray_errors import as_chatsim, first_error, silent_error, worker_error
from chatsim.loadtest._ray_worker import LoadWorker, Report
from chatsim.loadtest._stage import StageRun
from chatsim.recording import EPISODES_FILE, EpisodeWriter, RunHeader, create_run_dir

__all__ = ["LOAD_WORKER_RESOURCES", "SILENT_SECONDS", "START_LEAD", "LoadDriver"]

LOAD_WORKER_RESOURCES = {"CPU": 1.0}
"""What each load worker asks Ray for."""

_log = get_logger("chatsim.loadtest")

START_LEAD = 0.25
"""Seconds between choosing a stage's start and the start: time for ``begin`` to reach every
worker (a late one would start its arrivals late, and its start lag would show it)."""
_PINGS = 5
SILENT_SECONDS = 60.0
"""Seconds without a report (or an answer to ``begin``) after which a load worker counts as
lost, and the longest the driver waits on the workers for anything: a healthy one reports at
least every ``REPORT_SECONDS``, so only a blocked event loop or a frozen node is this late
(even an overloaded worker's loop lags by seconds, not a minute)."""


@dataclass
class _Stage:
    """The stage the driver follows now: each worker's part once it has it (a lost worker's
    from what reached the driver), and what that needs."""

    index: int
    load: float
    start: float
    before: list[int]
    """Each worker's arrivals (whole run) at the start."""
    parts: list[StageRun | None] = field(init=False)
    recorded: list[array[float]] = field(init=False)
    """The scheduled times of each worker's records in this stage."""

    def __post_init__(self) -> None:
        self.parts = [None] * len(self.before)
        self.recorded = [array("d") for _ in self.before]


class LoadDriver:
    """Starts the load workers, runs every stage over them, and writes what they return."""

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
        self.failure: ChatsimError | None = None
        """The first lost worker's error: the run stopped after writing what it had."""
        self.lost: set[int] = set()
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
            except* Exception as group:  # a worker not placed or not started: as it is
                leaf = first_error(group)
                if (failure := as_chatsim(leaf, "a load worker", self.run_dir)) is None:
                    raise
                raise failure from (None if failure is leaf else leaf)
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
            if self.failure is None:  # else the workers are killed: nothing more to wait for
                await self._stop(serving)
            group.cancel_scope.cancel()

    async def _stop(self, serving: list[Any]) -> None:
        stopped = [h.stop.remote() for h in self.handles]  # all sent, then awaited
        try:
            with anyio.fail_after(SILENT_SECONDS):
                for worker, ref in [*enumerate(stopped), *enumerate(serving)]:
                    await self._call(worker, ref)
        except ChatsimError as exc:  # every stage ran: only the ending failed
            self.failure = exc
        except TimeoutError:  # ended by ``run`` (ray.kill), as after any failure
            self.failure = ChatsimError(
                f"the load workers did not stop within {SILENT_SECONDS:.0f} s of the last "
                f"stage; every stage ran and is recorded in {self.run_dir}"
            )

    async def _start(self) -> list[Any]:
        """Every worker up, its clock offset measured, its simulator open."""
        for i, handle in enumerate(self.handles):  # placed, or ActorNotPlaced (never a hang)
            first = handle.clock_now.remote()
            await self._call(
                i, placed(first, self._what(i), LOAD_WORKER_RESOURCES, self.place_within)
            )
        serving = [h.serve.remote(await self._shift(i)) for i, h in enumerate(self.handles)]
        for i, handle in enumerate(self.handles):
            if (error := await self._call(i, handle.wait_ready.remote())) is not None:
                raise ChatsimError(f"{self._what(i)} could not start: {error}")
        _log.info("ray load test started", workers=self.count)
        return serving

    def _what(self, worker: int) -> str:
        return f"load worker {worker} of {self.count}"

    async def _call(self, worker: int, call: Awaitable[Any]) -> Any:
        """What ``call`` (to ``worker``) returns; a Ray error as the ``ChatsimError`` that
        names the worker (``ray_failure``)."""
        try:
            return await call
        except Exception as exc:
            if (failure := as_chatsim(exc, self._what(worker), self.run_dir)) is None:
                raise
            if failure is exc:
                raise
            raise failure from exc

    async def _shift(self, worker: int) -> float:
        """How far ``handle``'s clock runs ahead of the driver's (the first ping also waits
        for the actor to start; the shortest round trip gives the best reading)."""
        best_rtt, shift = math.inf, 0.0
        for _ in range(_PINGS):
            sent = self.clock.now()
            theirs = await self._call(worker, self.handles[worker].clock_now.remote())
            back = self.clock.now()
            if back - sent < best_rtt:
                best_rtt, shift = back - sent, theirs - (sent + back) / 2
        return shift

    async def _stages(self, writer: EpisodeWriter) -> None:
        base = 0
        for index, load in enumerate(self.config.loads()):
            if self.interrupted or self.auth_error is not None or self.failure is not None:
                break
            before = [self.stats.arrivals(w) for w in range(self.count)]
            stage = _Stage(index, load, self.clock.now() + START_LEAD, before)
            await self._begin(stage, base)
            async with anyio.create_task_group() as group:
                for worker in range(self.count):
                    group.start_soon(self._follow, worker, stage, writer)
                await anyio.sleep(max(0.0, stage.start - self.clock.now()))
                self.stats.live.stage, self.stats.live.load = index, load
                self.stats.sample(stage.start)
            merged = merge_stage_runs([p for p in stage.parts if p is not None])
            self.stages.append(merged)
            self.stats.sample(self.clock.now())
            base += merged.numbers

    async def _begin(self, stage: _Stage, base: int) -> None:
        """Start the stage on every worker (all sent at once, then awaited)."""
        args = (stage.index, stage.load, stage.start, base)
        sent = [h.begin.remote(*args) for h in self.handles]  # all sent, then awaited
        deadline = anyio.current_time() + SILENT_SECONDS
        for worker, ref in enumerate(sent):
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    await self._call(worker, ref)
            except ChatsimError as exc:
                await self._lose(worker, exc, stage)
            except TimeoutError:  # alive but silent: ``run`` ends it with the others
                await self._lose(worker, self._silent(worker), stage)

    async def _follow(self, worker: int, stage: _Stage, writer: Any) -> None:
        """One worker's reports until it has finished the stage, or is lost."""
        while stage.parts[worker] is None:
            try:
                with anyio.fail_after(SILENT_SECONDS):
                    report: Report = await self._call(worker, self.handles[worker].report.remote())
            except ChatsimError as exc:  # died, or a call to it failed
                await self._lose(worker, exc, stage)
                return
            except TimeoutError:  # alive but silent: ``run`` ends it with the others
                await self._lose(worker, self._silent(worker), stage)
                return
            for record in report.records:
                writer.append(record)
                stage.recorded[worker].append(record.extra["load"]["scheduled_at"])
            self.stats.update(worker, report.counters, report.rss, report.recent)
            self.lag.add(report.lag_times, report.lag_values)
            if report.error is not None:  # its stage task or serve raised: no stage, ever
                _log.error("load worker failed", worker=worker, error=report.error,
                           traceback=report.trace)  # fmt: skip
                failed = worker_error(self._what(worker), report.error, self.run_dir)
                await self._lose(worker, failed, stage)
                return
            if report.auth_error is not None and self.auth_error is None:
                self.auth_error = report.auth_error  # the key was refused: stop everyone
                await self._halt()
            stage.parts[worker] = report.stage

    async def _lose(self, worker: int, exc: ChatsimError, stage: _Stage) -> None:
        """``worker`` can no longer run: keep its part of ``stage`` as far as it reached the
        driver, stop the others (their parts are kept), and fail the run after the stage."""
        self.lost.add(worker)
        if self.failure is None:  # the run's error: the caller reports it (the CLI prints it)
            self.failure = exc
            _log.info("load worker lost", worker=worker, error=str(exc))
        else:  # a later loss no error will name
            _log.warning("load worker lost", worker=worker, error=str(exc))
        ended = max(stage.start, self.clock.now())
        arrivals = self.stats.arrivals(worker) - stage.before[worker]
        stage.parts[worker] = lost_part(
            stage.index, stage.load, stage.start, ended, arrivals, stage.recorded[worker]
        )
        await self._halt()

    def _silent(self, worker: int) -> ChatsimError:
        return silent_error(self._what(worker), SILENT_SECONDS, self.run_dir)

    async def _halt(self) -> None:
        """Stop the stage on every worker not lost (one that dies now: its report says so).
        A worker that does not answer is not waited for past ``SILENT_SECONDS``: its own
        follow finds it silent (waiting longer could wait on a worker that never answers)."""
        sent = [(w, self.handles[w].halt.remote()) for w in range(self.count) if w not in self.lost]
        with anyio.move_on_after(SILENT_SECONDS):
            for worker, ref in sent:
                with contextlib.suppress(ChatsimError):  # its follow (or the run's end) says so
                    await self._call(worker, ref)

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
