"""The driver of a run on Ray: plans as today, hands chunks to episode workers as they free
up, and is the run directory's only writer.

Exactly once: an episode is recorded the first time its record arrives; a later copy (a
re-sent chunk, a retried call) is dropped. Ray's actor and task retries are off for the
record stream: every ``exchange`` is awaited to its end before the next one to that worker,
and the driver keeps, per worker, the plans it sent and has not seen recorded. A worker that
dies (``RayActorError``: died, unreachable) has those plans put back at the front of the queue
and a replacement started in its slot, at most ``MAX_RESTARTS`` times per slot; then the run
stops with ``WorkersLost`` (``--resume`` completes it).

Budgets: each ``exchange`` tells the worker how many workers are live, and it re-shares its
targets' budgets when that changes. A slot that finishes for good leaves its share to the
others; a dead worker's share is kept for its replacement (started at once), so that the
shares never add up to more than the budget while the replacement starts.

Workers are named actors, ``chatsim:<run id>:<Ray job id>:<n>`` in the ``chatsim`` namespace
(``n`` counts the actors this driver started; the job id keeps a resumed run's names apart
from a killed driver's that Ray has not reaped yet), so an operator can find them.
"""

from __future__ import annotations

import signal
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import anyio

from chatsim._exceptions import AuthenticationError, ChatsimError, ConfigError
from chatsim._logging import get_logger
from chatsim.distributed._ray import connect, import_ray, worker_environment
from chatsim.distributed._simulators import SimulatorActors, start_simulator_actors
from chatsim.distributed._worker import EpisodeWorker, Reply, WorkerFailure
from chatsim.recording import (
    EpisodeRecord,
    create_run_dir,
    open_recorded_for_resume,
    run_dir_lock,
)
from chatsim.runner import (
    EpisodePlan,
    Progress,
    RunCrashed,
    RunInterrupted,
    RunOutcome,
    RunSetup,
)
from chatsim.runner._baseline_step import run_baseline_step
from chatsim.runner._prepare import run_header
from chatsim.simulators._registry import SimulatorSettings, runs_on_actors

__all__ = ["MAX_RESTARTS", "NAMESPACE", "WorkersLost", "execute_run_on_ray"]

_log = get_logger("chatsim.distributed")

MAX_RESTARTS = 3
"""Replacements per worker slot; a worker that keeps dying is a bug or a sick node, and
re-sending its episodes forever would hide it."""
NAMESPACE = "chatsim"
"""The Ray namespace of the named worker actors."""
_REAP_SECONDS = 10.0
"""How long to wait for a killed worker's last call to resolve (it normally does at once)."""


class WorkersLost(ChatsimError):
    """A worker slot died more than ``MAX_RESTARTS`` times; the run stopped. Finished
    episodes are on disk: ``--resume`` runs the rest."""


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
    ``execute_run`` raises, and ``WorkersLost``.
    """
    if not setup.resume:
        create_run_dir(setup.run_dir, run_header(setup))
    config = setup.config
    env_vars = worker_environment(config.models, config.simulator)  # auto / ray:// only
    with run_dir_lock(setup.run_dir), connect(ray, workers, env_vars=env_vars) as count:
        driver = _Driver(setup, progress, retry_errors, ray)
        try:
            await driver.run(count, handle_signals)
        finally:
            driver.writer.close()
    return driver.finish()


@dataclass
class _Slot:
    """One worker's place: its current actor and the plans sent to it, not yet recorded."""

    index: int
    handle: Any = None
    name: str = ""
    serving: Any = None
    """The worker's ``serve`` call: it ends with the worker (and tells how a dead one died)."""
    held: dict[str, EpisodePlan] = field(default_factory=dict)
    restarts: int = 0


class _Driver:
    """Feeds every worker from one queue of plans and records what comes back."""

    def __init__(
        self, setup: RunSetup, progress: Progress | None, retry_errors: bool, address: str
    ) -> None:
        self.setup = setup
        self.progress = progress
        self.address = address
        done: set[str] = set()
        if setup.resume:
            # Ids and terminations only: no record is built per episode (``_scan.py``).
            _, recorded = open_recorded_for_resume(setup.run_dir)
            done = recorded.done(retry_errors=retry_errors)
        self.todo = deque(p for p in setup.plans if p.episode_id not in done)
        self.recorded: set[str] = set()
        self.outcome = RunOutcome(setup.run_dir, skipped=len(setup.plans) - len(self.todo))
        self.writer = setup.open_writer()
        self.failure: WorkerFailure | None = None
        self.lost: WorkersLost | None = None
        self.stopped = False
        self.live = 0
        """Worker slots not finished for good (a dead worker's slot counts: it is refilled)."""
        self._started = 0
        self._simulators: SimulatorActors | None = None
        """The ``hf:`` simulator's actors, which every worker calls (None: each worker has
        its own simulator client)."""

    async def run(self, count: int, handle_signals: bool) -> None:
        ray = import_ray()
        if self.progress is not None:
            self.progress.start(len(self.setup.plans), self.outcome.skipped)
        _log.info("ray run started", workers=count, todo=len(self.todo))
        self._actor = ray.remote(num_cpus=1)(EpisodeWorker)
        self._job = ray.get_runtime_context().get_job_id()
        self.live = min(count, len(self.todo))
        slots = [_Slot(index) for index in range(self.live)]
        try:
            if self.live and runs_on_actors(self.setup.config.simulator):
                self._simulators = await start_simulator_actors(
                    self.setup.config.simulator, self._simulator_settings()
                )
            for slot in slots:
                self._start(slot)
            async with anyio.create_task_group() as group:
                self._stop = group.cancel_scope
                if handle_signals:
                    group.start_soon(self._watch_signals)
                async with anyio.create_task_group() as drivers:
                    for slot in slots:
                        drivers.start_soon(self._drive, slot)
                if self.failure is None and self.lost is None:
                    s = self.setup
                    self.outcome.baseline_records = await run_baseline_step(
                        s.config, s.run_dir, s.questions, s.callers
                    )
                group.cancel_scope.cancel()  # all done: stop the signal watcher
        finally:
            for slot in slots:
                if slot.handle is not None:
                    ray.kill(slot.handle)  # episodes still held end unrecorded; resume re-runs them
            if self._simulators is not None:
                await self._simulators.stop()

    def _simulator_settings(self) -> SimulatorSettings:
        settings = self.setup.simulator_settings
        if settings is None:
            raise ConfigError("an hf: simulator on Ray needs the run's simulator settings")
        return settings

    def _start(self, slot: _Slot) -> None:
        """A fresh actor in ``slot``, taking its share among the live workers."""
        slot.name = f"chatsim:{self.setup.run_id}:{self._job}:{self._started}"
        self._started += 1
        config = self.setup.config.model_dump(mode="json")
        # max_restarts / max_task_retries 0: a dead worker is replaced here, its plans re-sent.
        options = self._actor.options(
            name=slot.name, namespace=NAMESPACE, max_restarts=0, max_task_retries=0
        )
        slot.handle = options.remote(config, self.setup.run_id, self.live, self._simulators)

    async def _drive(self, slot: _Slot) -> None:
        """One slot's life: feed its worker; replace it if it dies; then give up its share."""
        died = import_ray().exceptions.RayActorError
        try:
            while True:
                try:
                    await self._feed(slot)
                    return
                except died as exc:
                    if not (slot.held or self.todo):
                        return  # it died with nothing left to do: no replacement needed
                    if not await self._replace(slot, exc):
                        return
        finally:
            self.live -= 1  # its share goes to the others at their next exchange

    async def _feed(self, slot: _Slot) -> None:
        """Give the worker what it wants, record what it returns, until nothing is left."""
        worker = slot.handle
        slot.serving = serving = worker.serve.remote()
        wants = 0
        while True:
            chunk = [self.todo.popleft() for _ in range(min(wants, len(self.todo)))]
            slot.held.update((plan.episode_id, plan) for plan in chunk)
            reply: Reply = await worker.exchange.remote(chunk, bool(self.todo), self.live)
            self._record(reply.records, slot)
            wants = reply.wants
            if reply.failure is not None:
                self.failure = self.failure or reply.failure
                self._stop.cancel()
                return
            if not self.todo and reply.holding == 0:
                break
        await worker.stop.remote()
        await serving

    async def _replace(self, slot: _Slot, error: Exception) -> bool:
        """Put the dead worker's unrecorded plans back at the front of the queue and start
        a replacement; False (and the run stops) once the slot has died too often."""
        ray = import_ray()
        dead, plans = slot.name, list(slot.held.values())
        ray.kill(slot.handle, no_restart=True)  # unreachable is treated as dead: make it so
        with anyio.move_on_after(_REAP_SECONDS), suppress(ray.exceptions.RayError):
            await slot.serving  # resolves with the death, at once; read so Ray logs no stray error
        slot.held.clear()
        self.todo.extendleft(reversed(plans))
        if slot.restarts >= MAX_RESTARTS:
            slot.handle = None
            self.lost = self.lost or self._lost(dead, error)
            self._stop.cancel()
            return False
        slot.restarts += 1
        self._start(slot)
        _log.warning(
            "ray worker died; its unrecorded episodes go to a replacement",
            worker=dead, slot=slot.index, replacement=slot.name, resent=len(plans),
            restart=slot.restarts, error=f"{type(error).__name__}: {error}",
        )  # fmt: skip
        return True

    def _lost(self, dead: str, error: Exception) -> WorkersLost:
        resume = f"chatsim run --resume {self.setup.run_dir} --ray {self.address}"
        return WorkersLost(
            f"ray worker {dead} died ({type(error).__name__}), and its slot had been refilled "
            f"{MAX_RESTARTS} times already; the run stopped with {len(self.recorded)} new "
            f"episodes recorded. Complete it with: {resume}"
        )

    def _record(self, records: list[EpisodeRecord], slot: _Slot) -> None:
        for record in records:
            slot.held.pop(record.episode_id, None)
            if record.episode_id in self.recorded:
                continue  # a later copy: the first one counts
            self.recorded.add(record.episode_id)
            self.writer.append(record)
            self.outcome.recorded += 1
            if self.progress is not None:
                self.progress.advance(record)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.stopped = True
                self._stop.cancel()
                return

    def finish(self) -> RunOutcome:
        _log.info("ray run ended", recorded=self.outcome.recorded)
        failure = self.failure
        if failure is not None and failure.kind == "auth":
            raise AuthenticationError(failure.message)
        if failure is not None:
            error = ChatsimError(failure.message)
            raise RunCrashed(self.setup.run_dir, failure.episode_id, error) from error
        if self.lost is not None:
            raise self.lost
        if self.stopped:
            raise RunInterrupted(self.setup.run_dir)
        return self.outcome
