"""The driver's worker slots: each one's actor, the plans it holds, its restarts.

A worker that dies (``RayActorError``: died, unreachable) is killed for good, the plans it
held and had not seen recorded go back to the front of the queue, and a replacement starts in
its slot, at most ``MAX_RESTARTS`` times per slot; then the run stops with ``WorkersLost``
(``--resume`` completes it). Every actor started here must answer its first call within the
schedule timeout (``_placement``), or the run stops with ``ActorNotPlaced``.

Workers are named actors, ``chatsim:<run id>:<Ray job id>:<n>`` in the ``chatsim`` namespace
(``n`` counts the actors this driver started; the job id keeps a resumed run's names apart
from a killed driver's that Ray has not reaped yet), so an operator can find them.
"""

from __future__ import annotations

from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

import anyio

from chatsim._exceptions import ChatsimError
from chatsim._logging import get_logger
from chatsim.distributed._placement import placed
from chatsim.distributed._ray import import_ray
from chatsim.distributed._simulators import SimulatorActors
from chatsim.distributed._worker import EpisodeWorker
from chatsim.runner import EpisodePlan, RunSetup

__all__ = ["MAX_RESTARTS", "NAMESPACE", "WORKER_RESOURCES", "Slot", "Slots", "WorkersLost"]

_log = get_logger("chatsim.distributed")

MAX_RESTARTS = 3
"""Replacements per worker slot; a worker that keeps dying is a bug or a sick node, and
re-sending its episodes forever would hide it."""
NAMESPACE: Final = "chatsim"
"""The Ray namespace of the named worker actors."""
WORKER_RESOURCES: Final = {"CPU": 1.0}
"""What one episode worker asks Ray for."""
_REAP_SECONDS: Final = 10.0
"""How long to wait for a killed worker's last call to resolve (it normally does at once)."""


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


class Slots:
    """Starts, checks and replaces the worker actors of one run."""

    def __init__(self, setup: RunSetup, simulators: SimulatorActors | None, place_within: float):
        ray = import_ray()
        self.setup = setup
        self.simulators = simulators
        self.place_within = place_within
        self._actor = ray.remote(num_cpus=WORKER_RESOURCES["CPU"])(EpisodeWorker)
        self._job = ray.get_runtime_context().get_job_id()
        self._started = 0

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

    async def placed(self, slot: Slot) -> None:
        """Return once the slot's actor answers (``ActorNotPlaced`` past the deadline)."""
        what = f"episode worker {slot.name}"
        await placed(slot.handle.holding.remote(), what, WORKER_RESOURCES, self.place_within)

    async def retire(self, slot: Slot, todo: deque[EpisodePlan]) -> None:
        """Kill the slot's (dead) actor for good and put its unrecorded plans back at the
        front of ``todo``."""
        ray = import_ray()
        plans = list(slot.held.values())
        ray.kill(slot.handle, no_restart=True)  # unreachable is treated as dead: make it so
        if slot.serving is not None:
            with anyio.move_on_after(_REAP_SECONDS), suppress(ray.exceptions.RayError):
                await slot.serving  # resolves with the death, at once; read: no stray error log
        slot.held.clear()
        todo.extendleft(reversed(plans))

    def replace(self, slot: Slot, share: tuple[int, int], error: Exception, resent: int) -> bool:
        """Start a replacement in the slot, with the dead one's ``share`` (live workers, its
        rank); False once it has died too often."""
        dead = slot.name
        if slot.restarts >= MAX_RESTARTS:
            slot.handle = None
            return False
        slot.restarts += 1
        self.start(slot, *share)
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

    def end(self, slots: list[Slot]) -> None:
        """Kill every slot's actor: episodes still held end unrecorded; resume re-runs them."""
        ray = import_ray()
        for slot in slots:
            if slot.handle is not None:
                ray.kill(slot.handle)
