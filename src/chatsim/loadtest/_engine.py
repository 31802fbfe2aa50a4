"""The load generator: stages of open- or closed-loop conversations, each run by ``run_episode``.

Arrivals are scheduled against the run's monotonic clock and never wait for the target: the
open-loop scheduler sleeps until each arrival's time and starts it (late, if the process was
busy, or if ``max_in_flight`` conversations were already running), and each record keeps its
*scheduled* start in ``extra["load"]["scheduled_at"]``, so the summary can measure latency
from when the user meant to start (coordinated omission). A closed-loop user schedules its
next conversation for the moment its last one ended.

Shape: one task group for the run (lag monitor, sampler, live view, signal watcher), one per
stage (its conversations). After a stage's arrivals end it waits ``drain_timeout`` for the
conversations still running, then cancels them: they leave no record and count as abandoned.

Several engines (Ray workers) can share one load: each is given a ``Share`` and takes every
``count``-th arrival of the one seeded schedule (open loop) or every ``count``-th user (closed
loop), from a common start time (``run_stage(start_at=...)``), so that together they offer
what one process would. Conversation numbers (which pick the question and the episode id) are
the arrival's index in the schedule, so a shared open-loop stage plans the very conversations
one process would.
"""

from __future__ import annotations

import math
import random
import signal
import time
from array import array
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from chatsim._exceptions import AuthenticationError
from chatsim._util._clock import Clock
from chatsim._util._gc import GcPolicy
from chatsim.config import LoadTestConfig
from chatsim.loadtest._arrivals import arrival_offsets, user_start_offsets
from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live_stats import LiveStats
from chatsim.loadtest._share import Share
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord
from chatsim.runner import (
    EpisodePlan,
    EpisodeSettings,
    derive_seed,
    episode_id,
    run_episode,
)
from chatsim.simulators import TurnSource
from chatsim.targets import TargetCaller

__all__ = ["LoadEngine", "Share", "StageRun"]

Sleep = Callable[[float], Awaitable[None]]
Background = Callable[[], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class StageRun:
    """What happened in one stage, beyond its records."""

    index: int
    load: float
    """Arrival rate (open) or users (closed)."""
    started_at: float
    window_end: float | None = None
    """When arrivals stopped (duration reached, or the last conversation started)."""
    ended_at: float | None = None
    """When its last conversation ended or was abandoned."""
    arrivals: int = 0
    """Conversations started."""
    abandoned: int = 0
    """Conversations cancelled unrecorded (drain timeout, Ctrl-C, a refused key)."""
    scheduled: array[float] = field(default_factory=lambda: array("d"))
    """Scheduled start of every conversation, recorded or not (clock time)."""
    cpu_seconds: float = 0.0
    """CPU time this process used during the stage (all of it: the client's own cost); merged
    over Ray workers, their sum."""
    numbers: int = 0
    """Conversation numbers the stage used up: the next stage's numbers start this much higher."""
    workers: int = 1
    """Processes that generated the stage's load (Ray workers; 1: this process alone)."""
    busiest_cpu_seconds: float | None = None
    """Merged over Ray workers: the CPU time of the busiest one (None: one process)."""


class LoadEngine:
    """Runs every stage of ``config``; ``sink`` receives each finished conversation's record."""

    def __init__(
        self,
        config: LoadTestConfig,
        *,
        run_id: str,
        simulator_spec: str,
        questions: Sequence[Question],
        caller: TargetCaller,
        source: TurnSource,
        sink: Callable[[EpisodeRecord], None],
        clock: Clock,
        stats: LiveStats,
        sleep: Sleep | None = None,
        share: Share | None = None,
    ) -> None:
        if not questions:
            raise ValueError("a load test needs at least one question")
        self.config = config
        self.stats = stats
        self.stages: list[StageRun] = []
        self.auth_error: AuthenticationError | None = None
        self.interrupted = False
        self.lag: LagMonitor | None = None
        """The lag monitor running alongside, if any (its samples go in the summary)."""
        self.gc = GcPolicy(
            lambda: stats.call_errors + stats.errors + stats.abandoned, enabled=config.gc_freeze
        )
        self._clock = clock
        self._now = clock.now
        self._sleep: Sleep = sleep or anyio.sleep
        self._caller = caller
        self._source = source
        self._sink = sink
        order = list(questions)
        random.Random(derive_seed(config.seed, "questions")).shuffle(order)
        self._questions = order
        self._share = share or Share()
        self._limit = self._share.part(config.conversations)
        self._base = 0  # the current stage's first conversation number
        self._started = 0  # conversations this engine started in the current stage
        self._slots = anyio.Semaphore(config.max_in_flight)
        self._users_left = 0
        self._run_scope = anyio.CancelScope()
        self._stopped = False
        self._settings = EpisodeSettings.from_config(
            config, run_id=run_id, simulator_spec=simulator_spec
        )

    # --- the run

    async def run(
        self, background: Sequence[Background] = (), *, handle_signals: bool = False
    ) -> None:
        """Run all stages. ``background`` tasks (lag monitor, live view) run alongside and are
        cancelled at the end. Sets ``auth_error`` / ``interrupted`` when the run stopped early."""
        self.gc.start()
        try:
            async with anyio.create_task_group() as tg:
                self._run_scope = tg.cancel_scope
                for task in background:
                    tg.start_soon(task)
                tg.start_soon(self.sampler)
                if handle_signals:
                    tg.start_soon(self._watch_signals)
                loads = self.config.loads()
                for index, load in enumerate(loads):
                    await self._stage(index, load)
                    if index + 1 < len(loads):
                        await self._between_stages()
                tg.cancel_scope.cancel()
        finally:
            self.gc.stop()

    async def run_stage(
        self, index: int, load: float, *, start_at: float | None = None, base: int | None = None
    ) -> StageRun:
        """One stage on its own (a Ray worker's share of it): it starts at ``start_at`` (clock
        time; default now) and numbers its conversations from ``base`` (default: after the
        previous stage's). ``stop`` ends it; the caller runs ``sampler`` and the lag monitor."""
        with anyio.CancelScope() as scope:
            self._run_scope = scope
            if self._stopped:
                scope.cancel()
            await self._stage(index, load, start_at, base)
        return self.stages[-1]

    def stop(self) -> None:
        """Stop the run now: no new arrivals; running conversations are abandoned."""
        self._stopped = True
        self._run_scope.cancel()

    async def sampler(self) -> None:
        """Sample the counters (and tick the GC policy) every ``bucket`` seconds until cancelled."""
        while True:
            self.stats.sample(self._now())
            self.gc.tick()
            await anyio.sleep(self.config.bucket)

    async def _between_stages(self) -> None:
        """Collect garbage while nothing runs, and let the lag monitor see that pause before
        the next stage starts (so it is charged to no stage)."""
        self.gc.stage_boundary()
        interval = self.lag.interval if self.lag is not None else 0.0
        await anyio.sleep(2 * interval)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.interrupted = True
                self.stop()
                return

    async def _stage(
        self, index: int, load: float, start_at: float | None = None, base: int | None = None
    ) -> None:
        if base is not None:
            self._base = base
        self._started = 0
        stage = StageRun(index, load, started_at=self._now() if start_at is None else start_at)
        self.stages.append(stage)
        cpu = time.process_time()
        try:
            await self._sleep_until(stage.started_at)  # a shared start: every worker at once
            cpu = time.process_time()
            self.stats.stage, self.stats.load = index, load
            self.stats.sample(stage.started_at)
            if self.config.mode == "open":
                await self._open_loop(stage)
            else:
                await self._closed_loop(stage)
        finally:
            stage.cpu_seconds = time.process_time() - cpu
            stage.ended_at = self._now()
            if stage.window_end is None:
                stage.window_end = stage.ended_at
            if self.config.mode == "closed":
                stage.numbers = self._share.count * self._started
            self._base += stage.numbers
            self.stats.sample(stage.ended_at)

    async def _sleep_until(self, when: float) -> None:
        delay = when - self._now()
        if delay > 0:
            await self._sleep(delay)

    def _drain(self, tg: TaskGroup) -> None:
        if self.config.drain_timeout is not None:
            tg.cancel_scope.deadline = anyio.current_time() + self.config.drain_timeout

    def _count_reached(self, stage: StageRun) -> bool:
        return self._limit is not None and stage.arrivals >= self._limit

    # --- open loop

    async def _open_loop(self, stage: StageRun) -> None:
        config = self.config
        duration = config.duration if config.duration is not None else math.inf
        offsets = arrival_offsets(
            stage.load,
            process=config.arrival,
            ramp_up=config.ramp_up,
            seed=derive_seed(config.seed, "arrivals", stage.index),
        )
        start, limit, share = stage.started_at, config.conversations, self._share
        async with anyio.create_task_group() as tg:
            for position, offset in enumerate(offsets):
                stage.numbers = position  # the schedule's arrivals before this one
                if offset >= duration or (limit is not None and position >= limit):
                    break
                if not share.takes(position):
                    continue  # another worker's arrival
                scheduled = start + offset
                await self._sleep_until(scheduled)
                try:  # the cap makes arrivals late, never lost: their lateness is recorded
                    self._slots.acquire_nowait()
                except anyio.WouldBlock:
                    await self._slots.acquire()
                self._arrive(stage, scheduled)
                number = self._base + position
                tg.start_soon(self._conversation, stage, scheduled, None, True, number)
            if limit is None or stage.numbers < limit:
                await self._sleep_until(start + duration)
            stage.window_end = self._now()
            self._drain(tg)

    # --- closed loop

    async def _closed_loop(self, stage: StageRun) -> None:
        config = self.config
        start = stage.started_at
        end = start + config.duration if config.duration is not None else None
        async with anyio.create_task_group() as tg:
            timer = anyio.CancelScope()
            offsets = user_start_offsets(int(stage.load), config.ramp_up)
            mine = [(user, o) for user, o in enumerate(offsets) if self._share.takes(user)]
            self._users_left = len(mine)
            if not mine:  # fewer users than workers: this one has none
                stage.window_end = start
                return
            for user, offset in mine:
                tg.start_soon(self._user, stage, user, start + offset, end, timer)
            if end is not None:
                with timer:  # cancelled early when every user has stopped
                    await self._sleep_until(end)
                if stage.window_end is None:
                    stage.window_end = self._now()
                self._drain(tg)

    async def _user(
        self,
        stage: StageRun,
        user: int,
        scheduled: float,
        end: float | None,
        timer: anyio.CancelScope,
    ) -> None:
        try:
            while (end is None or scheduled < end) and not self._count_reached(stage):
                await self._sleep_until(scheduled)
                if self._count_reached(stage):
                    break
                self._arrive(stage, scheduled)
                if self._count_reached(stage):
                    stage.window_end = self._now()
                share = self._share
                number = self._base + self._started * share.count + share.index
                self._started += 1
                await self._conversation(stage, scheduled, user, False, number)
                scheduled = self._now()  # the next one starts as this one ends
        finally:
            self._users_left -= 1
            if self._users_left == 0:
                timer.cancel()

    # --- one conversation

    def _arrive(self, stage: StageRun, scheduled: float) -> None:
        stage.arrivals += 1
        stage.scheduled.append(scheduled)
        self.stats.arrivals += 1

    def _plan(self, number: int) -> EpisodePlan:
        questions = self._questions
        question = questions[number % len(questions)]
        repeat = number // len(questions)
        model = self.config.model
        seed = derive_seed(self.config.seed, question.id, repeat)
        return EpisodePlan(episode_id(model, question.id, repeat), model, question, repeat, seed)

    async def _conversation(
        self, stage: StageRun, scheduled: float, user: int | None, holds_slot: bool, number: int
    ) -> None:
        stats = self.stats
        stats.in_flight += 1
        record: EpisodeRecord | None = None
        try:
            record = await run_episode(
                self._plan(number), self._settings, self._source, self._caller, self._clock
            )
        except AuthenticationError as exc:  # the key was refused: no point going on
            self.auth_error = self.auth_error or exc
            self.stop()
        finally:
            stats.in_flight -= 1
            if holds_slot:
                self._slots.release()
            if record is None:
                stage.abandoned += 1
                stats.abandoned += 1
        if record is None:
            return
        stats.completed += 1
        if record.termination.is_error:
            stats.errors += 1
        load: dict[str, Any] = {"stage": stage.index, "load": stage.load}
        load["scheduled_at"] = scheduled
        load["conversation"] = number
        if user is not None:
            load["user"] = user
        self._sink(record.model_copy(update={"extra": {**record.extra, "load": load}}))
