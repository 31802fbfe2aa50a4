"""The driver of a run on Ray: plans as today, hands chunks to episode workers as they free
up, and is the run directory's only writer.

Exactly once: an episode is recorded the first time its record arrives; a later copy (a
re-sent chunk, a retried call) is dropped. Ray's actor and task retries are off for the
record stream: every ``exchange`` is awaited to its end before the next one to that worker,
and the driver keeps, per worker, the plans it sent and has not seen recorded; a worker that
dies has them sent again (``_slots``). An actor Ray cannot place stops the run once the
schedule timeout passes (``_placement``); ``--resume`` completes it.

Budgets: each ``exchange`` tells the worker how many workers are live and its rank among
them, and it re-shares its targets' budgets when that changes (``share_policy``: the shares
add up to the budget exactly). A slot that finishes for good leaves its share to the others;
a dead worker's share is kept for its replacement (started at once, in the same rank), so
that the shares never add up to more than the budget while the replacement starts. No more
workers start than the smallest target concurrency (``worker_count``).
"""

from __future__ import annotations

import signal
from collections import deque
from typing import Any

import anyio

from chatsim._exceptions import (
    ChatsimError,
    ConfigError,
    SimulatorError,
)
from chatsim._logging import get_logger
from chatsim.distributed._errors import failure_error, first_error, worker_error
from chatsim.distributed._placement import ActorNotPlaced
from chatsim.distributed._ray import connect, import_ray, schedule_timeout, worker_environment
from chatsim.distributed._simulators import SimulatorActors, launch_simulator_actors
from chatsim.distributed._slots import (
    MAX_RESTARTS,
    NAMESPACE,
    SIMULATOR_CPUS,
    Slot,
    Slots,
    WorkersLost,
    fair_take,
    workers_beside,
)
from chatsim.distributed._worker import Reply, WorkerFailure
from chatsim.recording import (
    EpisodeRecord,
    create_run_dir,
    open_recorded_for_resume,
    run_dir_lock,
)
from chatsim.runner import (
    Progress,
    RunInterrupted,
    RunOutcome,
    RunSetup,
)
from chatsim.runner._baseline_step import run_baseline_step
from chatsim.runner._prepare import run_header
from chatsim.simulators._registry import SimulatorSettings, runs_on_actors

__all__ = ["MAX_RESTARTS", "NAMESPACE", "ActorNotPlaced", "WorkersLost", "execute_run_on_ray"]

_log = get_logger("chatsim.distributed")


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
    ``execute_run`` raises, ``WorkersLost`` and ``ActorNotPlaced``.
    """
    place_within = schedule_timeout()  # a bad value fails before anything is written
    if not setup.resume:
        create_run_dir(setup.run_dir, run_header(setup))
    config = setup.config
    env_vars = worker_environment(config.models, config.simulator)  # auto / ray:// only
    with run_dir_lock(setup.run_dir), connect(ray, workers, env_vars=env_vars) as count:
        driver = _Driver(setup, progress, retry_errors, ray)
        try:
            await driver.run(count, workers is not None, handle_signals, place_within)
        except* ChatsimError as group:  # raised inside the run's task groups: as it is
            error = first_error(group)
            raise error from error.__cause__
        finally:
            driver.writer.close()
    return driver.finish()


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
        self._to_run = len(self.todo)
        self.recorded: set[str] = set()
        self.outcome = RunOutcome(setup.run_dir, skipped=len(setup.plans) - len(self.todo))
        self.writer = setup.open_writer()
        self.failure: WorkerFailure | None = None
        self.lost: ChatsimError | None = None
        """Why the run stopped short: ``WorkersLost``, ``ActorNotPlaced``, or a
        ``SimulatorError`` (a simulator actor died)."""
        self.stopped = False
        self.slots: Slots | None = None
        self._simulators: SimulatorActors | None = None
        """The ``hf:`` simulator's actors, which every worker calls (None: each worker has
        its own simulator client)."""

    async def run(
        self, count: int, explicit: bool, handle_signals: bool, place_within: float
    ) -> None:
        """Run every plan over ``count`` workers (``explicit``: the user's ``--workers``, else
        one per CPU of the cluster, less the CPUs the ``hf:`` simulator actors hold)."""
        if self.progress is not None:
            self.progress.start(len(self.setup.plans), self.outcome.skipped)
        try:
            async with anyio.create_task_group() as group:
                self._stop = group.cancel_scope
                if handle_signals:
                    group.start_soon(self._watch_signals)
                slots = await self._start(count, explicit, place_within)
                if slots and self._simulators is not None:
                    for index, serving in enumerate(self._simulators.serving):
                        group.start_soon(self._watch_actor, index, serving)
                if slots:
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
            if self.slots is not None:
                self.slots.end()
            if self._simulators is not None:
                await self._simulators.stop()

    async def _start(self, count: int, explicit: bool, place_within: float) -> list[Slot]:
        """Place the simulator actors (``hf:``), start a worker in each slot, and wait for the
        actors' models: the workers start (process, imports, callers) while they load. The
        slots started; none if nothing is left to do or Ray could not place the actors."""
        if not self.todo:
            return []
        if runs_on_actors(self.setup.config.simulator):
            try:
                self._simulators = await launch_simulator_actors(
                    self.setup.config.simulator,
                    self._simulator_settings(),
                    num_cpus=SIMULATOR_CPUS,
                    place_within=place_within,
                )
            except ActorNotPlaced as exc:
                self._stop_short(exc)
                return []
            if not explicit:
                count = workers_beside(count, len(self._simulators.handles))
        self.slots = Slots(self.setup, self._simulators, place_within, self.todo)
        slots = self.slots.open(count)
        if self._simulators is not None:
            self._simulators = self.slots.simulators = await self._simulators.loaded()
        return slots

    def _simulator_settings(self) -> SimulatorSettings:
        settings = self.setup.simulator_settings
        if settings is None:
            raise ConfigError("an hf: simulator on Ray needs the run's simulator settings")
        return settings

    async def _drive(self, slot: Slot) -> None:
        """One slot's life: feed its worker; replace it if it dies; then give up its share."""
        ray = import_ray()
        assert self.slots is not None
        try:
            while True:
                try:
                    await self._feed(slot, self.slots)
                    return
                except ActorNotPlaced as exc:
                    self._stop_short(exc)
                    return
                except ray.exceptions.RayActorError as exc:
                    if getattr(exc, "actor_init_failed", False):  # its constructor raised
                        resume = self._resume_command()
                        raise worker_error(slot.name, exc, len(self.recorded), resume) from exc
                    dead, resent = slot.name, len(slot.held)
                    await self.slots.retire(slot)
                    if not self.todo:
                        return  # nothing queued: the others hold the rest (or took its plans)
                    if not self.slots.replace(slot, exc, resent):
                        self.lost = self.lost or self.slots.lost(
                            dead, exc, len(self.recorded), self._resume_command()
                        )
                        self._stop.cancel()
                        return
                except ray.exceptions.RayError as exc:  # not a death: a bug, a lost result
                    resume = self._resume_command()
                    raise worker_error(slot.name, exc, len(self.recorded), resume) from exc
        finally:
            self.slots.leave(slot)

    async def _feed(self, slot: Slot, slots: Slots) -> None:
        """Give the worker what it wants, record what it returns, until nothing is left."""
        worker = slot.handle
        slot.serving = serving = worker.serve.remote(self._simulators)
        if not await slots.wait_placed(slot):
            return
        wants = 0
        while True:
            unrecorded = self._to_run - len(self.recorded)
            take = fair_take(wants, unrecorded, slots.sharing(), len(slot.held), len(self.todo))
            chunk = [self.todo.popleft() for _ in range(take)]
            slot.held.update((plan.episode_id, plan) for plan in chunk)
            more = bool(self.todo) and take == wants  # held back: back with records, not at once
            reply: Reply = await worker.exchange.remote(chunk, more, *slots.share(slot))
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
        slots.finish(slot)  # its CPU goes back to the cluster (a worker still waiting, say)

    def _resume_command(self) -> str:
        return f"chatsim run --resume {self.setup.run_dir} --ray {self.address}"

    def _stop_short(self, error: ActorNotPlaced) -> None:
        """Stop the run: an actor could not be placed. What is recorded stays."""
        if self.lost is None:
            self.lost = ActorNotPlaced(
                f"{error}. The run stopped with {len(self.recorded)} new episodes recorded; "
                f"complete it with: {self._resume_command()}"
            )
        self._stop.cancel()

    def _record(self, records: list[EpisodeRecord], slot: Slot) -> None:
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

    async def _watch_actor(self, index: int, serving: Any) -> None:
        """Stop the run if a simulator actor dies: every turn sent to it would fail from then
        on (its ``serve`` call resolves only then, or when the run stops it)."""
        try:
            await serving
        except import_ray().exceptions.RayError as exc:
            assert self._simulators is not None
            if len(self.recorded) == self._to_run:
                return  # every episode is in: the run does not need it any more
            self.lost = self.lost or SimulatorError(
                f"simulator actor {self._simulators.names[index]} died ({type(exc).__name__}); "
                f"the run stopped with {len(self.recorded)} new episodes recorded (those it "
                "failed as simulator errors); complete it with: "
                f"{self._resume_command()} --retry-errors"
            )
            self._stop.cancel()

    def finish(self) -> RunOutcome:
        _log.info("ray run ended", recorded=self.outcome.recorded)
        if self.failure is not None:
            resume = self._resume_command()
            raise failure_error(self.failure, self.setup.run_dir, len(self.recorded), resume)
        if self.lost is not None:
            raise self.lost
        if self.stopped:
            raise RunInterrupted(self.setup.run_dir)
        return self.outcome
