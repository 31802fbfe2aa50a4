"""The episode worker: a Ray async actor running today's episode loop on chunks of plans.

It builds its own callers, limits and simulator from the run's configuration (as
``prepare_run`` does), runs many episodes at once, and hands finished records back in
batches: one remote call (``exchange``) gives it more plans and returns what finished, so
records never travel one call each. It writes nothing; the driver is the only writer.

This module does not import ``ray``: the driver wraps the class with ``ray.remote``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import anyio

from chatsim._exceptions import AuthenticationError, QuotaExceededError
from chatsim._logging import bound_ids, get_logger
from chatsim._util._clock import MonotonicWallClock
from chatsim.config import RunConfig
from chatsim.distributed._budgets import (
    CallerShares,
    concurrency_share,
    simulator_slots_set,
)
from chatsim.distributed._simulators import SimulatorActors
from chatsim.recording import EpisodeRecord
from chatsim.runner import EpisodePlan, EpisodeSettings, episodes_in_flight, run_episode
from chatsim.runner._prepare import call_policy, run_simulator_settings
from chatsim.simulators import SimulatorBackend, TurnSource
from chatsim.simulators._registry import create_simulator, open_turn_source
from chatsim.targets import CallerPool, build_caller

__all__ = [
    "BATCH_LINGER",
    "BATCH_RECORDS",
    "EpisodeWorker",
    "Reply",
    "WorkerFailure",
]

_log = get_logger("chatsim.distributed")

BATCH_RECORDS = 64
"""Records that make a batch worth sending at once."""
BATCH_LINGER = 0.05
"""Seconds a smaller batch waits for company before it is sent anyway."""


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    """Why a worker stopped taking work: a refused key (``auth``), a spent quota
    (``quota``), a worker that could not open its simulator (``start``: ``episode_id`` is
    empty) or a bug (``crash``)."""

    kind: str
    episode_id: str
    message: str


def failure_of(exc: Exception, episode_id: str, *, kind: str = "crash") -> WorkerFailure:
    """The failure to report for ``exc``: a refused key or a spent quota stops the run as
    in one process (the driver raises the same error); anything else is ``kind``."""
    if isinstance(exc, QuotaExceededError):
        return WorkerFailure("quota", episode_id, str(exc))
    if isinstance(exc, AuthenticationError):
        return WorkerFailure("auth", episode_id, str(exc))
    return WorkerFailure(kind, episode_id, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Reply:
    """What one ``exchange`` returns."""

    records: list[EpisodeRecord]
    wants: int
    """Plans the worker can take now (its window, twice its episodes in flight, less those
    it holds)."""
    holding: int
    """Plans taken and not yet returned as records."""
    failure: WorkerFailure | None = None


@dataclass
class _State:
    finished: list[EpisodeRecord] = field(default_factory=list)
    holding: int = 0
    failure: WorkerFailure | None = None
    first_finished_at: float | None = None


class EpisodeWorker:
    """One worker. ``serve`` runs for the worker's life; ``exchange`` trades plans for records
    (and hears how many workers are live and its rank among them, to re-share the budget);
    ``stop`` lets ``serve`` return once every plan it holds is finished.

    ``workers``: the live workers, itself included, whose share of each budget it takes from
    the start, as the ``rank``-th of them (``chatsim.distributed._budgets``). ``simulators``:
    the ``hf:`` actors it calls (placed; their models may still be loading: ``serve`` is
    given them loaded)."""

    def __init__(
        self,
        config: dict[str, Any],
        run_id: str,
        workers: int = 1,
        simulators: SimulatorActors | None = None,
        *,
        rank: int = 0,
    ) -> None:
        self.simulators = simulators
        self.config = RunConfig.model_validate(config)
        self.clock = MonotonicWallClock()
        self.pool = CallerPool(call_policy(self.config), clock=self.clock)
        options = self.config.target_options
        self.callers = {
            label: build_caller(
                label, base_url=self.config.base_url, options=options, pool=self.pool
            )
            for label in self.config.models
        }
        self.sim_settings = run_simulator_settings(self.config, self.pool)
        self.simulator = self._create_simulator()
        # Every caller exists now (targets, a simulator's own endpoint), each with the run's
        # whole budget: the shares keep it, so that each re-share divides the whole.
        self._shares = CallerShares(
            self.pool,
            self.callers.values(),
            self.simulator,
            simulator_slots=simulator_slots_set(self.config),
        )
        self._in_flight_floor = 0
        """What ``hf:`` actors need in flight from each worker to fill their batches."""
        self.in_flight = 0
        """Episodes in flight at once: the worker's share (``_size_window``)."""
        self._window: anyio.CapacityLimiter | None = None
        self.live, self.rank = 0, 0
        self.reshare(workers, rank)
        self.settings = EpisodeSettings.from_config(
            self.config, run_id=run_id, simulator_spec=self.config.simulator
        )
        self._started_with = workers
        self.state = _State()
        # asyncio primitives: a Ray async actor runs every method on one asyncio loop.
        self.changed = asyncio.Event()
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()

    async def serve(self, simulators: SimulatorActors | None = None) -> None:
        """Open the simulator, run episodes as plans arrive, close everything at the end.

        ``simulators``: the ``hf:`` actors once loaded (the worker was built while they
        loaded): enough episodes in flight to keep every actor's batches full. A failure
        to start (or any error that ends the worker) is the reply of every ``exchange``
        (``WorkerFailure``), never a wait that does not end."""
        try:
            if simulators is not None:
                self._in_flight_floor = simulators.episodes_per_worker(self._started_with)
                self._size_window()
            # A limiter, not a semaphore: a re-share re-sizes it in place, slots held kept.
            self._window = slots = anyio.CapacityLimiter(self.in_flight)
            async with (
                open_turn_source(self.simulator, self.sim_settings) as source,
                anyio.create_task_group() as episodes,
            ):
                self._source, self._episodes, self._slots = source, episodes, slots
                self.ready.set()
                await self.stopping.wait()
        except Exception as exc:
            kind = "crash" if self.ready.is_set() else "start"
            _log.exception("ray worker stopped", phase=kind)
            self._fail(failure_of(exc, "", kind=kind))
        finally:
            if not self.ready.is_set():  # cancelled before it started: say so, too
                self._fail(WorkerFailure("start", "", "the worker stopped before it started"))
            self.ready.set()  # an exchange waiting for the start returns the failure
            await self.pool.aclose()
            await self.simulator.aclose()

    def _create_simulator(self) -> SimulatorBackend:
        """The worker's simulator: a client of the run's GPU actors (``hf:``), else its own."""
        if self.simulators is not None:
            return self.simulators.client(self.clock)
        return create_simulator(self.config.simulator, self.sim_settings, self.clock)

    def reshare(self, live: int, rank: int = 0) -> None:
        """Take the ``rank``-th share of every budget among ``live`` workers (in place: the
        adaptive limits, the buckets and the episodes in flight keep their state)."""
        live = max(1, live)
        if (live, rank) == (self.live, self.rank):
            return
        self._shares.reshape(live, rank)
        if self.live:
            _log.info("ray worker re-shared its budget", workers=live, was=self.live, rank=rank)
        self.live, self.rank = live, rank
        self._size_window()

    def _size_window(self) -> None:
        """Episodes in flight: the worker's share of the user's, else one process's rule
        applied to the worker's share of the call slots (so that the workers together run
        what one process would); at least what the ``hf:`` actors need. A live window is
        re-sized in place: episodes past a smaller size finish, and no new one starts until
        it has room."""
        if self.config.max_episodes_in_flight is not None:
            own = concurrency_share(self.config.max_episodes_in_flight, self.live, self.rank)
        else:
            slots = concurrency_share(self.config.concurrency, self.live, self.rank)
            shared = self.config.model_copy(update={"concurrency": slots})
            own = episodes_in_flight(shared, self.simulator)
        self.in_flight = max(own, self._in_flight_floor)
        if self._window is not None:
            self._window.total_tokens = self.in_flight

    async def exchange(
        self, plans: list[EpisodePlan], more_coming: bool, live: int | None = None, rank: int = 0
    ) -> Reply:
        """Take ``plans``; return when a batch is ready, the window is half empty (and more
        work is coming) or nothing is held. ``live``: the workers now live, this one the
        ``rank``-th (re-shares the budget when either changed; None keeps the share). A
        worker that failed takes no plans and returns its failure at once."""
        if live is not None:
            self.reshare(live, rank)
        await self.ready.wait()
        state = self.state
        if state.failure is None:
            for plan in plans:
                state.holding += 1
                self._episodes.start_soon(self._one, plan, self._source, self._slots)
        while not self._worth_replying(more_coming):
            self.changed.clear()
            with anyio.move_on_after(self._linger_left()):
                await self.changed.wait()
        records, state.finished, state.first_finished_at = state.finished, [], None
        state.holding -= len(records)
        return Reply(records, self._wants(), state.holding, state.failure)

    async def stop(self) -> None:
        self.stopping.set()

    async def holding(self) -> int:
        """Plans taken and not yet returned as records (for an operator, or a test)."""
        return self.state.holding

    def _wants(self) -> int:
        if self.state.failure is not None:
            return 0
        return max(0, 2 * self.in_flight - self.state.holding)

    def _linger_left(self) -> float:
        start = self.state.first_finished_at
        return BATCH_LINGER if start is None else max(0.0, start + BATCH_LINGER - self._now())

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _worth_replying(self, more_coming: bool) -> bool:
        state = self.state
        if state.failure is not None or state.holding == len(state.finished):
            return True  # everything held is finished (or nothing is held)
        if more_coming and self._wants() >= self.in_flight:
            return True  # half the window is free: ask for more before the slots idle
        if len(state.finished) >= BATCH_RECORDS:
            return True
        return bool(state.finished) and self._linger_left() <= 0

    async def _one(
        self, plan: EpisodePlan, source: TurnSource, slots: anyio.CapacityLimiter
    ) -> None:
        async with slots:
            if self.state.failure is not None:
                return  # the run is stopping: the driver records no more
            try:
                with bound_ids(run_id=self.settings.run_id, episode_id=plan.episode_id):
                    record = await run_episode(
                        plan, self.settings, source, self.callers[plan.model], self.clock
                    )
            except AuthenticationError as exc:  # a refused key or a spent quota
                self._fail(failure_of(exc, plan.episode_id))
                return
            except Exception as exc:  # a bug, not an outcome: the driver stops the run
                _log.exception("episode failed unexpectedly", episode_id=plan.episode_id)
                self._fail(failure_of(exc, plan.episode_id))
                return
        state = self.state
        if state.first_finished_at is None:
            state.first_finished_at = self._now()
        state.finished.append(record)
        self.changed.set()

    def _fail(self, failure: WorkerFailure) -> None:
        if self.state.failure is None:
            self.state.failure = failure
        self.changed.set()
