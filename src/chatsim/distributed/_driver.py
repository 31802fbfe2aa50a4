"""The driver of a run on Ray: plans as today, hands chunks to episode workers as they free
up, and is the run directory's only writer.

Exactly once: an episode is recorded the first time its record arrives; a later copy (a
re-sent chunk, a retried call) is dropped. Ray's task retries are not relied on for the
record stream: every ``exchange`` is awaited to its end before the next one to that worker.
"""

from __future__ import annotations

import signal
from collections import deque
from typing import Any

import anyio

from chatsim._exceptions import AuthenticationError, ChatsimError, ConfigError
from chatsim._logging import get_logger
from chatsim.distributed._ray import connect, import_ray
from chatsim.distributed._worker import EpisodeWorker, Reply, WorkerFailure
from chatsim.recording import (
    EPISODES_FILE,
    EpisodeRecord,
    EpisodeWriter,
    create_run_dir,
    open_for_resume,
    run_dir_lock,
)
from chatsim.runner import Progress, RunCrashed, RunInterrupted, RunOutcome, RunSetup
from chatsim.runner._baseline_step import run_baseline_step
from chatsim.runner._prepare import run_header

__all__ = ["execute_run_on_ray"]

_log = get_logger("chatsim.distributed")

_LOCAL_ONLY_SIMULATORS = ("hf:",)
"""Simulators a worker cannot build for itself yet (one GPU model per worker)."""


async def execute_run_on_ray(
    setup: RunSetup,
    *,
    ray: str,
    workers: int | None = None,
    progress: Progress | None = None,
    handle_signals: bool = False,
    retry_errors: bool = False,
) -> RunOutcome:
    """``execute_run``'s twin on Ray (``ray``: ``local``, ``auto`` or ``ray://HOST:PORT``).

    Same records, ids and seeds as one process; the summary is read as usual. Raises what
    ``execute_run`` raises.
    """
    if setup.config.simulator.startswith(_LOCAL_ONLY_SIMULATORS):
        raise ConfigError(
            f"--ray does not run the {setup.config.simulator} simulator yet (one GPU model per "
            "worker); use a served: or scripted simulator, or run without --ray"
        )
    if not setup.resume:
        create_run_dir(setup.run_dir, run_header(setup))
    with run_dir_lock(setup.run_dir), connect(ray, workers) as count:
        driver = _Driver(setup, progress, retry_errors)
        try:
            await driver.run(count, handle_signals)
        finally:
            driver.writer.close()
    return driver.finish()


class _Driver:
    """Feeds every worker from one queue of plans and records what comes back."""

    def __init__(self, setup: RunSetup, progress: Progress | None, retry_errors: bool) -> None:
        self.setup = setup
        self.progress = progress
        done: set[str] = set()
        if setup.resume:
            recorded = open_for_resume(setup.run_dir).episodes
            done = {r.episode_id for r in recorded if not (retry_errors and r.termination.is_error)}
        self.todo = deque(p for p in setup.plans if p.episode_id not in done)
        self.recorded: set[str] = set()
        self.outcome = RunOutcome(setup.run_dir, skipped=len(setup.plans) - len(self.todo))
        self.writer = EpisodeWriter(setup.run_dir / EPISODES_FILE).open()
        self.failure: WorkerFailure | None = None
        self.stopped = False

    async def run(self, count: int, handle_signals: bool) -> None:
        ray = import_ray()
        if self.progress is not None:
            self.progress.start(len(self.setup.plans), self.outcome.skipped)
        _log.info("ray run started", workers=count, todo=len(self.todo))
        config = self.setup.config.model_dump(mode="json")
        actor = ray.remote(num_cpus=1)(EpisodeWorker)
        started = min(count, len(self.todo))
        handles = [actor.remote(config, self.setup.run_id, started) for _ in range(started)]
        try:
            async with anyio.create_task_group() as group:
                self._stop = group.cancel_scope
                if handle_signals:
                    group.start_soon(self._watch_signals)
                async with anyio.create_task_group() as drivers:
                    for handle in handles:
                        drivers.start_soon(self._drive, handle)
                if self.failure is None:
                    s = self.setup
                    self.outcome.baseline_records = await run_baseline_step(
                        s.config, s.run_dir, s.questions, s.callers
                    )
                group.cancel_scope.cancel()  # all done: stop the signal watcher
        finally:
            for handle in handles:
                ray.kill(handle)  # episodes still held end unrecorded; a resume re-runs them

    async def _drive(self, worker: Any) -> None:
        """One worker's loop: give it what it wants, record what it returns."""
        serving = worker.serve.remote()
        wants = 0
        while True:
            chunk = [self.todo.popleft() for _ in range(min(wants, len(self.todo)))]
            reply: Reply = await worker.exchange.remote(chunk, bool(self.todo))
            self._record(reply.records)
            wants = reply.wants
            if reply.failure is not None:
                self.failure = self.failure or reply.failure
                self._stop.cancel()
                return
            if not self.todo and reply.holding == 0:
                break
        await worker.stop.remote()
        await serving

    def _record(self, records: list[EpisodeRecord]) -> None:
        for record in records:
            if record.episode_id in self.recorded:
                continue  # a later copy: the first one counts
            self.recorded.add(record.episode_id)
            self.writer.append(record)
            self.outcome.new_records.append(record)
            if self.progress is not None:
                self.progress.advance(record)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.stopped = True
                self._stop.cancel()
                return

    def finish(self) -> RunOutcome:
        _log.info("ray run ended", recorded=len(self.outcome.new_records))
        failure = self.failure
        if failure is not None and failure.kind == "auth":
            raise AuthenticationError(failure.message)
        if failure is not None:
            error = ChatsimError(failure.message)
            raise RunCrashed(self.setup.run_dir, failure.episode_id, error) from error
        if self.stopped:
            raise RunInterrupted(self.setup.run_dir)
        return self.outcome
