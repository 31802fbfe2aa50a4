"""The driver's worker slots: each one's actor, the plans it holds, its restarts, its share.

A worker that dies (``RayActorError``: died, unreachable) is killed for good, the plans it
held and had not seen recorded go back to the front of the queue, and a replacement starts in
its slot, at most ``MAX_RESTARTS`` times per slot; then the run stops with ``WorkersLost``
(``--resume`` completes it). Every actor started here must answer its first call within the
schedule timeout (``_placement``); one that does not is left out while other workers run (or
stops the run with ``ActorNotPlaced`` when none does), and one still waiting when the work is
done gives up at once.

The live slots (not finished for good: a dead worker's slot counts, it is refilled) are kept in
order; a slot's place among them is its rank in the budgets' shares (``share_policy``). No more
slots open than the targets' call slots allow (``worker_count``).

Workers are named actors, ``chatsim:<run id>:<Ray job id>:<n>`` in the ``chatsim`` namespace
(``n`` counts the actors this driver started; the job id keeps a resumed run's names apart
from a killed driver's that Ray has not reaped yet), so an operator can find them.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

import anyio

from chatsim._exceptions import ChatsimError
from chatsim._logging import get_logger
from chatsim.distributed._budgets import shared_budgets, worker_count
from chatsim.distributed._placement import ActorNotPlaced, placed
from chatsim.distributed._ray import import_ray
from chatsim.distributed._simulators import SimulatorActors
from chatsim.distributed._worker import EpisodeWorker
from chatsim.runner import EpisodePlan, RunSetup

__all__ = [
    "MAX_RESTARTS",
    "NAMESPACE",
    "SIMULATOR_CPUS",
    "WORKER_RESOURCES",
    "Slot",
    "Slots",
    "WorkersLost",
    "fair_take",
    "workers_beside",
]

_log = get_logger("chatsim.distributed")

MAX_RESTARTS = 3
"""Replacements per worker slot; a worker that keeps dying is a bug or a sick node, and
re-sending its episodes forever would hide it."""
NAMESPACE: Final = "chatsim"
"""The Ray namespace of the named worker actors."""
WORKER_RESOURCES: Final = {"CPU": 1.0}
"""What one episode worker asks Ray for."""
STARTING_SECONDS: Final = 10.0
"""How long a worker that is not up yet still counts for the even split of the plans."""
SIMULATOR_CPUS: Final = 1.0
"""CPUs each ``hf:`` simulator actor holds (it drives its GPU: tokenising, batching)."""
_REAP_SECONDS: Final = 10.0
"""How long to wait for a killed worker's last call to resolve (it normally does at once)."""


def workers_beside(cpus: int, actors: int) -> int:
    """Workers for the ``cpus`` the ``hf:`` simulator ``actors`` leave (one per CPU, at least
    one): a worker per CPU of the cluster besides them would wait for a CPU they hold."""
    return max(1, cpus - math.ceil(actors * SIMULATOR_CPUS))


def fair_take(wants: int, unrecorded: int, live: int, held: int, queued: int) -> int:
    """Plans to give a worker that ``wants`` more and holds ``held``: no more than its even
    part, among ``live`` workers, of the ``unrecorded`` episodes (queued or held), so that the
    worker up first does not take a small run's every plan while the others start."""
    fair = math.ceil(unrecorded / max(1, live)) - held
    return max(0, min(wants, fair, queued))


class WorkersLost(ChatsimError):
    """A worker slot died more than ``MAX_RESTARTS`` times; the run stopped. Finished
    episodes are on disk: ``--resume`` runs the rest."""


@dataclass
class Slot:
    """One worker's place: its current actor and the plans sent to it, not yet recorded."""

    index: int
    handle: Any = None
    name: str = ""
    serving: Any = None
    """The worker's ``serve`` call: it ends with the worker (and tells how a dead one died)."""
    held: dict[str, EpisodePlan] = field(default_factory=dict)
    restarts: int = 0
    placed: bool = False
    """Whether its current actor has answered (Ray placed it and it started)."""
    started_at: float = 0.0
    """When its current actor was asked for (the driver's monotonic clock)."""


class Slots:
    """Opens, checks and replaces the worker actors of one run, fed from ``todo``."""

    def __init__(
        self,
        setup: RunSetup,
        simulators: SimulatorActors | None,
        place_within: float,
        todo: deque[EpisodePlan],
    ) -> None:
        ray = import_ray()
        self.setup = setup
        self.simulators = simulators
        self.place_within = place_within
        self.todo = todo
        self.all: list[Slot] = []
        self._live: list[int] = []
        self._waiting: dict[int, anyio.CancelScope] = {}
        """The placement waits of the slots not placed yet: cancelled once the work drains."""
        self._actor = ray.remote(num_cpus=WORKER_RESOURCES["CPU"])(EpisodeWorker)
        self._job = ray.get_runtime_context().get_job_id()
        self._started = 0

    def open(self, wanted: int) -> list[Slot]:
        """Start ``wanted`` workers, within the budgets they share by rank (the targets' call
        slots, the simulator's where set, the episodes in flight where set) and the plans."""
        budgets = [caller.policy.max_concurrency for caller in self.setup.callers.values()]
        budgets += shared_budgets(self.setup.config)
        count = min(len(self.todo), worker_count(wanted, budgets))
        if count < min(max(1, wanted), len(self.todo)):
            _log.warning(
                "fewer ray workers than asked: each needs a share of every budget",
                asked=wanted, workers=count, budget=min(budgets),
            )  # fmt: skip
        _log.info("ray run started", workers=count, todo=len(self.todo))
        self._live = list(range(count))
        self.all = [Slot(index) for index in self._live]
        for slot in self.all:
            self.start(slot, *self.share(slot))
        return self.all

    @property
    def live(self) -> int:
        """Worker slots not finished for good."""
        return len(self._live)

    def share(self, slot: Slot) -> tuple[int, int]:
        """(live workers, the slot's rank among them): its share of every budget."""
        return self.live, bisect.bisect_left(self._live, slot.index)

    def sharing(self) -> int:
        """The live workers that take a part of the plans: those up, and those started less
        than ``STARTING_SECONDS`` ago (one Ray cannot place yet must not hold a part back
        from the others until its deadline)."""
        now = time.monotonic()
        return sum(
            1 for s in self._live_slots() if s.placed or now - s.started_at < STARTING_SECONDS
        )

    def _live_slots(self) -> Iterator[Slot]:
        return (self.all[index] for index in self._live)  # a slot's index is its place in all

    @property
    def drained(self) -> bool:
        """Nothing is queued and no worker holds a plan."""
        return not self.todo and not any(s.held for s in self.all)

    def leave(self, slot: Slot) -> None:
        """The slot is finished for good: its share goes to the others at their next
        exchange; once the work drains, the workers still waiting give up."""
        self._live.remove(slot.index)
        if self.drained:
            for waiting in self._waiting.values():
                waiting.cancel()

    async def wait_placed(self, slot: Slot) -> bool:
        """Wait until the slot's worker answers. False: the run goes on without it (ended
        here), because the work drained first or because Ray did not place it within the
        deadline while other workers run; ``ActorNotPlaced`` if none does."""
        with anyio.CancelScope() as waiting:
            self._waiting[slot.index] = waiting
            if self.drained:  # a replacement started as the others finished the work
                waiting.cancel()
            try:
                await self.placed(slot)
                slot.placed = True
                return True
            except ActorNotPlaced as exc:
                # Another is up, or was (its replacement is starting): the run goes on.
                if not any(s.placed or s.restarts for s in self._live_slots()):
                    raise
                _log.warning(
                    "a ray worker was not placed in time; the run goes on without it",
                    worker=slot.name, workers=self.live - 1, error=str(exc),
                )  # fmt: skip
            finally:
                del self._waiting[slot.index]
        if waiting.cancel_called:
            _log.info("a ray worker waiting to be placed is not needed", worker=slot.name)
        self.finish(slot)  # not placed: ended, so that Ray does not start it later
        return False

    def start(self, slot: Slot, live: int, rank: int) -> None:
        """A fresh actor in ``slot``, taking the ``rank``-th share among ``live`` workers."""
        slot.name = f"chatsim:{self.setup.run_id}:{self._job}:{self._started}"
        self._started += 1
        config = self.setup.config.model_dump(mode="json")
        # max_restarts / max_task_retries 0: a dead worker is replaced here, its plans re-sent.
        options = self._actor.options(
            name=slot.name, namespace=NAMESPACE, max_restarts=0, max_task_retries=0
        )
        slot.handle = options.remote(config, self.setup.run_id, live, self.simulators, rank=rank)
        slot.serving = None
        slot.placed = False
        slot.started_at = time.monotonic()

    async def placed(self, slot: Slot) -> None:
        """Return once the slot's actor answers (``ActorNotPlaced`` past the deadline)."""
        what = f"episode worker {slot.name}"
        await placed(slot.handle.holding.remote(), what, WORKER_RESOURCES, self.place_within)

    async def retire(self, slot: Slot) -> None:
        """Kill the slot's (dead) actor for good and put its unrecorded plans back at the
        front of the queue."""
        ray = import_ray()
        # Back in the queue first: the other workers take them while this one is reaped.
        self.todo.extendleft(reversed(slot.held.values()))
        slot.held.clear()
        ray.kill(slot.handle, no_restart=True)  # unreachable is treated as dead: make it so
        if slot.serving is not None:
            with anyio.move_on_after(_REAP_SECONDS), suppress(ray.exceptions.RayError):
                await slot.serving  # resolves with the death, at once; read: no stray error log

    def replace(self, slot: Slot, error: Exception, resent: int) -> bool:
        """Start a replacement in the slot, with the dead one's share; False once it has died
        too often."""
        dead = slot.name
        if slot.restarts >= MAX_RESTARTS:
            slot.handle = None
            return False
        slot.restarts += 1
        self.start(slot, *self.share(slot))
        _log.warning(
            "ray worker died; its unrecorded episodes go to a replacement",
            worker=dead, slot=slot.index, replacement=slot.name, resent=resent,
            restart=slot.restarts, error=f"{type(error).__name__}: {error}",
        )  # fmt: skip
        return True

    def lost(self, dead: str, error: Exception, recorded: int, resume: str) -> WorkersLost:
        return WorkersLost(
            f"ray worker {dead} died ({type(error).__name__}), and its slot had been refilled "
            f"{MAX_RESTARTS} times already; the run stopped with {recorded} new "
            f"episodes recorded. Complete it with: {resume}"
        )

    def finish(self, slot: Slot) -> None:
        """End the slot's actor for good (its work is done, or it was never placed), so that
        its resources go back to the cluster now."""
        if slot.handle is not None:
            import_ray().kill(slot.handle)
            slot.handle = None

    def end(self) -> None:
        """Kill every slot's actor: episodes still held end unrecorded; resume re-runs them."""
        ray = import_ray()
        for slot in self.all:
            if slot.handle is not None:
                ray.kill(slot.handle)
