"""A load test's worker on Ray: an async actor that generates its share of each stage's load.

It builds its own target caller, simulator, limits and lag monitor (an even share of the
budget, as ``chatsim.distributed``'s episode workers do), runs the one-process ``LoadEngine``
on its ``Share`` of each stage, and times every call with its own clock. It writes nothing:
``report`` hands finished records back in batches, with the running counters, the raw
timings of recent calls (the driver's live view) and the event-loop lag samples.

An ``hf:`` simulator is not built here: the driver's GPU ``SimulatorActors`` play it, and the
worker's simulator is their client (``ActorSimulator``: one actor call per user turn, each
conversation pinned to one actor, the actor's queue and generation times in the records).

Its clock is its own monotonic clock moved by one constant (``shift``), measured by the
driver before the run, so that the records' times line up on the driver's timeline. A
constant shift leaves every duration the worker measures as it was.

This module does not import ``ray``: the driver wraps the class with ``ray.remote``.
"""

from __future__ import annotations

import asyncio
import traceback
from array import array
from dataclasses import dataclass, field
from typing import Any

import anyio

from chatsim._util._clock import MonotonicWallClock
from chatsim.config import LoadTestConfig
from chatsim.distributed._budgets import share_policy
from chatsim.distributed._simulators import SimulatorActors
from chatsim.distributed._worker import BATCH_RECORDS
from chatsim.loadtest._engine import LoadEngine
from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live_stats import LiveStats, Recent, resident_memory
from chatsim.loadtest._setup import load_call_policy, observed_caller, simulator_for, thinking
from chatsim.loadtest._share import Share
from chatsim.loadtest._stage import StageRun
from chatsim.questions import load_questions
from chatsim.recording import EpisodeRecord
from chatsim.simulators._registry import open_turn_source

__all__ = ["REPORT_SECONDS", "LoadWorker", "Report"]

REPORT_SECONDS = 0.25
"""Longest pause between two reports (at most half a series bucket): the driver's view."""


@dataclass(frozen=True, slots=True)
class Report:
    """What one ``report`` returns: everything new since the last one."""

    records: list[EpisodeRecord]
    counters: tuple[int, ...]
    """``LiveStats.counters()``: running totals of the whole run."""
    rss: int | None
    recent: list[Recent]
    lag_times: array[float]
    lag_values: array[float]
    stage: StageRun | None = None
    """The stage this worker just finished (its records all came in this or earlier reports)."""
    auth_error: str | None = None
    error: str | None = None
    """Why this worker can no longer run its share (its stage task or ``serve`` raised)."""
    trace: str | None = None
    """That error's traceback (the driver logs it)."""


class ShiftedClock:
    """A monotonic wall clock moved back by ``shift`` seconds (the driver's timeline)."""

    __slots__ = ("base", "shift")

    def __init__(self) -> None:
        self.base = MonotonicWallClock()
        self.shift = 0.0

    def now(self) -> float:
        return self.base.now() - self.shift


@dataclass
class _Outbox:
    records: list[EpisodeRecord] = field(default_factory=list)
    stage: StageRun | None = None
    lag_sent: int = 0


class LoadWorker:
    """``serve`` holds the worker's resources for its life; ``begin`` starts a stage;
    ``report`` returns what is new; ``halt`` abandons the stage; ``stop`` ends ``serve``.
    ``simulators``: the run's ``hf:`` simulator actors, which this worker calls (None: it
    builds its own simulator)."""

    def __init__(
        self,
        config: dict[str, Any],
        run_id: str,
        index: int,
        count: int,
        simulators: SimulatorActors | None = None,
    ) -> None:
        full = LoadTestConfig.model_validate(config)
        self.share = Share(index, count)
        # Its share of the budget (in-flight cap, concurrency, rpm, tpm): the shares add up to it.
        in_flight = max(1, self.share.part(full.max_in_flight) or 0)
        self.config = full.model_copy(update={"max_in_flight": in_flight})
        self.run_id = run_id
        self.clock = ShiftedClock()
        self.stats = LiveStats(window=full.window)
        policy = share_policy(load_call_policy(full), count, rank=index)
        self.caller = observed_caller(full, policy, self.clock, self.stats)
        given = self.config.simulator if simulators is None else simulators.client(self.clock)
        self.backend, self.sim_settings = simulator_for(self.config, given, self.clock)
        self.questions = load_questions(full.source, selection=full.selection)
        self.lag = LagMonitor(now=self.clock.now)
        self.interval = min(REPORT_SECONDS, full.bucket / 2)
        self.out = _Outbox()
        self.error: str | None = None
        self.trace: str | None = None
        # asyncio primitives: a Ray async actor runs every method on one asyncio loop.
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self.stopping = asyncio.Event()

    async def clock_now(self) -> float:
        """The worker's own clock, unshifted (the driver measures the offset with it)."""
        return self.clock.base.now()

    async def serve(self, shift: float) -> None:
        self.clock.shift = shift
        try:
            async with (
                open_turn_source(self.backend, self.sim_settings) as direct,
                anyio.create_task_group() as group,
            ):
                self.engine = LoadEngine(
                    self.config, run_id=self.run_id,
                    simulator_spec=self.backend.spec or self.config.simulator,
                    questions=self.questions, caller=self.caller,
                    source=thinking(direct, self.config, self.clock), sink=self._sink,
                    clock=self.clock, stats=self.stats, share=self.share,
                )  # fmt: skip
                self.engine.lag = self.lag
                self.group = group
                group.start_soon(self.lag.run)
                group.start_soon(self.engine.sampler)  # also ticks the GC policy
                self.engine.gc.start()
                try:
                    self.ready.set()
                    await self.stopping.wait()
                finally:  # a failed serve too hands the frozen objects back
                    self.engine.gc.stop()
                group.cancel_scope.cancel()
        except Exception as exc:  # tell the driver (wait_ready, report): never a hang
            self._failed(exc)
            self.ready.set()
            raise
        finally:
            await self.caller.aclose()
            await self.backend.aclose()

    async def wait_ready(self) -> str | None:
        """None once ``serve`` holds everything; else why it could not."""
        await self.ready.wait()
        return self.error

    def _failed(self, exc: BaseException) -> None:
        if self.error is None:  # the first error is the cause; later ones follow from it
            self.trace = "".join(traceback.format_exception(exc))
            while isinstance(exc, BaseExceptionGroup):  # a task group's: name what raised
                exc = exc.exceptions[0]
            self.error = f"{type(exc).__name__}: {exc}"
        self.changed.set()

    async def begin(self, index: int, load: float, start_at: float, base: int) -> None:
        if self.error is None:  # else the next report says why there is no stage
            self.group.start_soon(self._stage, index, load, start_at, base)

    async def _stage(self, index: int, load: float, start_at: float, base: int) -> None:
        try:
            if index > 0:
                self.engine.gc.stage_boundary()  # collect now, before the shared start
            stage = await self.engine.run_stage(index, load, start_at=start_at, base=base)
        except Exception as exc:  # a bug: the next report carries it (else: no stage, ever)
            self._failed(exc)
            return
        self.out.stage = stage
        self.changed.set()

    def _sink(self, record: EpisodeRecord) -> None:
        self.out.records.append(record)
        if len(self.out.records) >= BATCH_RECORDS:
            self.changed.set()

    async def report(self) -> Report:
        """Return what is new: at once if a batch is full or the stage ended, else after at
        most ``interval`` seconds."""
        out = self.out
        with anyio.move_on_after(self.interval):
            while out.stage is None and len(out.records) < BATCH_RECORDS and self.error is None:
                self.changed.clear()
                await self.changed.wait()
        times, lags = self.lag.times, self.lag.lags
        end = len(times)
        sent, out.lag_sent = out.lag_sent, end
        stage, out.stage = out.stage, None
        records, out.records = out.records, []
        auth = self.engine.auth_error
        return Report(
            records, self.stats.counters(), resident_memory(), self.stats.take_recent(),
            times[sent:end], lags[sent:end], stage, None if auth is None else str(auth),
            self.error, self.trace,
        )  # fmt: skip

    async def halt(self) -> None:
        """Stop the stage now (Ctrl-C, a refused key elsewhere): its conversations are abandoned."""
        self.engine.stop()

    async def stop(self) -> None:
        self.stopping.set()
