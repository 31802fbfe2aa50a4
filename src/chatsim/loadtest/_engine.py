"""The load generator: stages of open- or closed-loop conversations, each run by ``run_episode``.

Shape: one task group for the run (lag monitor, sampler, live view, signal watcher), one per
stage (its conversations). When conversations start is ``Arrivals``' job (``_loops``); what
one conversation does and counts is ``Conversations``' (``_conversations``); this module owns
the run's life: its stages in order, their times and CPU, stopping, sampling and the GC policy.

Several engines (Ray workers) can share one load: each is given a ``Share`` and takes its part
of every stage from a common start time (``run_stage(start_at=...)``), so that together they
offer what one process would.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import anyio

from chatsim._exceptions import AuthenticationError
from chatsim._util._clock import Clock
from chatsim._util._gc import GcPolicy
from chatsim.config import LoadTestConfig
from chatsim.loadtest._conversations import Conversations
from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live_stats import LiveStats
from chatsim.loadtest._loops import Arrivals
from chatsim.loadtest._share import Share
from chatsim.loadtest._stage import StageRun
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord
from chatsim.simulators import TurnSource
from chatsim.targets import TargetCaller

__all__ = ["LoadEngine"]

Sleep = Callable[[float], Awaitable[None]]
Background = Callable[[], Coroutine[Any, Any, None]]


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
        self.interrupted = False
        self.lag: LagMonitor | None = None
        """The lag monitor running alongside, if any (its samples go in the summary)."""
        self.gc = GcPolicy(
            lambda: stats.call_errors + stats.errors + stats.abandoned, enabled=config.gc_freeze
        )
        self._now = clock.now
        self._conversations = Conversations(
            config, run_id=run_id, simulator_spec=simulator_spec, questions=questions,
            caller=caller, source=source, sink=sink, clock=clock, stats=stats,
            on_auth_error=self.stop,
        )  # fmt: skip
        self._arrivals = Arrivals(
            config, self._conversations, share or Share(), now=clock.now, sleep=sleep or anyio.sleep
        )
        self._run_scope = anyio.CancelScope()
        self._stopped = False

    @property
    def auth_error(self) -> AuthenticationError | None:
        """The first refused key, if one stopped the run."""
        return self._conversations.auth_error

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
        self._arrivals.begin(base)
        stage = StageRun(index, load, started_at=self._now() if start_at is None else start_at)
        self.stages.append(stage)
        cpu = time.process_time()
        try:
            await self._arrivals.sleep_until(stage.started_at)  # a shared start: all at once
            cpu = time.process_time()
            self.stats.stage, self.stats.load = index, load
            self.stats.sample(stage.started_at)
            await self._arrivals.run(stage)
        finally:
            stage.cpu_seconds = time.process_time() - cpu
            stage.ended_at = self._now()
            if stage.window_end is None:
                stage.window_end = stage.ended_at
            self._arrivals.end(stage)
            self.stats.sample(stage.ended_at)
