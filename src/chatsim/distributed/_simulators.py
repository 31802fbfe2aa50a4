"""``hf:`` on Ray: one GPU actor per GPU, each the batching simulator of one process, that the
episode workers call one turn at a time.

    actors = await launch_simulator_actors(spec, settings)     # the driver, once: placed
    ...                                                        # workers start while it loads
    actors = await actors.loaded()                             # every model loaded
    backend = actors.client()                                  # each episode worker
    ...                                                        # episodes await turns as usual
    await actors.stop()                                        # the driver, at the end

(``start_simulator_actors`` is the first and third step at once.)

Each ``SimulatorActor`` (``_simulator_actor``) loads the model once and batches the turns of
every worker. One actor round trip per turn, never per token.

``ActorSimulator`` is the worker's ``SimulatorBackend``: not batched (``open_turn_source``
puts no second batcher in front of it), each turn goes to one actor, chosen by
``ReplicaRouter`` (least-loaded at the episode's first turn, then pinned: the actor's prompt
cache, and placement of all an episode's turns on one model copy). The turn comes back with
the times measured inside the actor: its queue time (waiting for a batch, prompt building
included) and its generation interval, moved onto the worker's clock by the round trip's
midpoint (NTP's rule, so machines whose clocks disagree still record consistent turns). What
the round trip adds shows as the gap between a turn's request and its start, beyond its
queue time. An actor that dies fails its turns as simulator errors naming it; new episodes
avoid it for the router's cooldown.

This module does not import ``ray`` at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypedDict, Unpack

import anyio

from chatsim._exceptions import ConfigError, SimulatorError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim.distributed._placement import placed
from chatsim.distributed._ray import DEFAULT_SCHEDULE_TIMEOUT, import_ray
from chatsim.distributed._simulator_actor import ACTOR_MAX_CONCURRENCY, ActorReply, SimulatorActor
from chatsim.simulators import UserTurn, UserTurnRequest
from chatsim.simulators._contract import SimulatorBackend
from chatsim.simulators._registry import SimulatorSettings
from chatsim.simulators._served import generate_each
from chatsim.simulators._served_router import ReplicaRouter

__all__ = [
    "ActorReply",
    "ActorSimulator",
    "SimulatorActor",
    "SimulatorActors",
    "launch_simulator_actors",
    "start_simulator_actors",
]

#: Seconds ``stop`` lets the actors finish their batches before ending them.
STOP_TIMEOUT: Final = 10.0
#: The settings an actor needs to build its simulator (the rest are the driver's: callers).
_SETTINGS_FIELDS: Final = ("temperature", "max_tokens", "prompt_format", "options")


def _on_local_clock(reply: ActorReply, sent: float, got: float) -> UserTurn:
    """The actor's turn with its times moved onto this process's clock: the actor's stay
    (received..replied) is placed in the middle of the round trip (sent..got)."""
    turn = reply.turn
    assert turn is not None
    stay = reply.replied_at - reply.received_at
    offset = sent + max(0.0, (got - sent) - stay) / 2 - reply.received_at

    def moved(at: float | None) -> float | None:
        return None if at is None else at + offset

    return dataclasses.replace(
        turn, started_at=moved(turn.started_at), ended_at=moved(turn.ended_at)
    )


class ActorSimulator(SimulatorBackend):
    """A worker's simulator: each turn forwarded to one of the actors (module doc)."""

    batched = False
    max_batch_size = 1_000_000

    def __init__(
        self, actors: SimulatorActors, *, clock: Clock | None = None, cooldown: float = 30.0
    ) -> None:
        self.spec = actors.spec
        self.actors = actors
        self._clock = clock or MonotonicWallClock()
        self.router = ReplicaRouter(len(actors.handles), clock=self._clock, cooldown=cooldown)

    async def _one(self, request: UserTurnRequest) -> UserTurn:
        ray = import_ray()
        index = self.router.acquire(request.episode_id)
        name = self.actors.names[index]
        gone: bool | None = None  # cancelled: no news of the actor
        try:
            sent = self._clock.now()
            ref = self.actors.handles[index].turn.remote(request)
            try:
                reply: ActorReply = await ref
                gone = False
            except anyio.get_cancelled_exc_class():
                ray.cancel(ref)  # the actor drops the turn from its batch
                raise
            except ray.exceptions.RayError as exc:
                # Died or unreachable: the actor is down; a bug inside it (a task error) is not.
                gone = not isinstance(exc, ray.exceptions.RayTaskError)
                raise SimulatorError(f"simulator actor {name} failed: {exc}") from exc
        finally:
            self.router.release(index, replica_failed=gone)
        if reply.error is not None:
            raise SimulatorError(f"{reply.error} (actor {name})")
        turn = _on_local_clock(reply, sent, self._clock.now())
        turn.replica = name
        return turn

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        return await generate_each(self._one, requests)


@dataclass(frozen=True, slots=True)
class SimulatorActors:
    """The started actors: what the episode workers need travels with it (Ray pickles actor
    handles and object refs)."""

    spec: str
    handles: tuple[Any, ...]
    names: tuple[str, ...]
    """Each actor's name in the records: ``actor-<i>@<node address>[gpu <ids>]``."""
    max_batch_size: int | None = None
    """Each actor's largest batch; None until ``loaded`` (the models may still be loading)."""
    serving: tuple[Any, ...] = ()
    """The actors' ``serve`` calls, to wait for on the way out."""

    async def loaded(self) -> SimulatorActors:
        """These actors once every one has loaded its model and runs its batcher (their
        largest batch known); a failure to load is a ``SimulatorError`` naming the actor."""
        if self.max_batch_size is not None:
            return self
        ray = import_ray()
        sizes: list[int] = []
        for i, handle in enumerate(self.handles):
            try:
                sizes.append(await handle.ready.remote())
            except ray.exceptions.RayError as exc:
                raise SimulatorError(
                    f"simulator actor {i} ({self.spec}) could not start: {exc}"
                ) from exc
        return dataclasses.replace(self, max_batch_size=max(sizes))

    def episodes_per_worker(self, workers: int) -> int:
        """Episodes each of ``workers`` should keep in flight so that every actor can fill
        two batches while the targets answer (one process's rule, ``episodes_in_flight``)."""
        if self.max_batch_size is None:
            raise RuntimeError("episodes_per_worker needs the loaded actors (await loaded())")
        return math.ceil(2 * self.max_batch_size * len(self.handles) / max(1, workers))

    def client(self, clock: Clock | None = None) -> ActorSimulator:
        """The simulator an episode worker uses in place of its own."""
        return ActorSimulator(self, clock=clock)

    async def stop(self) -> None:
        """Let each actor finish its batches and free its model, then end it."""
        ray = import_ray()
        try:
            for handle in self.handles:
                handle.stop.remote()
            with anyio.move_on_after(STOP_TIMEOUT):
                for ref in self.serving:
                    with contextlib.suppress(ray.exceptions.RayError):
                        await ref
        finally:
            self.kill()

    def kill(self) -> None:
        """End every actor at once (no batch is finished)."""
        ray = import_ray()
        for handle in self.handles:
            ray.kill(handle)


def _actor_count(count: int | None, num_gpus: float) -> int:
    if count is not None:
        if count < 1:
            raise ConfigError(f"simulator actors: the count must be at least 1, got {count}")
        return count
    if num_gpus <= 0:
        raise ConfigError("simulator actors without GPUs (num_gpus=0) need a count")
    gpus = int(import_ray().cluster_resources().get("GPU", 0) // num_gpus)
    if gpus < 1:
        raise ConfigError(
            "the hf: simulator on Ray needs GPUs in the cluster, and it has none; use a "
            "served: simulator (vLLM) or run without --ray"
        )
    return gpus


class ActorOptions(TypedDict, total=False):
    """``launch_simulator_actors``'s options, which ``start_simulator_actors`` hands on."""

    count: int | None
    num_gpus: float
    num_cpus: float
    place_within: float


async def start_simulator_actors(
    spec: str, settings: SimulatorSettings, **options: Unpack[ActorOptions]
) -> SimulatorActors:
    """``launch_simulator_actors``, then wait until every actor has loaded its model (a
    failure to load is a ``SimulatorError`` naming the actor, and every actor is ended)."""
    actors = await launch_simulator_actors(spec, settings, **options)
    try:
        return await actors.loaded()
    except BaseException:
        actors.kill()
        raise


async def launch_simulator_actors(
    spec: str,
    settings: SimulatorSettings,
    *,
    count: int | None = None,
    num_gpus: float = 1.0,
    num_cpus: float = 1.0,
    place_within: float = DEFAULT_SCHEDULE_TIMEOUT,
) -> SimulatorActors:
    """Start ``count`` actors of ``spec`` (default: one per GPU of the Ray cluster), each
    holding ``num_gpus`` (0 with a ``count``: on CPUs, for tests and trials), and return once
    Ray has placed every one; their models load from then on (``SimulatorActors.loaded``
    waits for them), so that what the caller starts next (the episode workers) starts while
    they load. An actor Ray has not placed within ``place_within`` seconds is
    ``ActorNotPlaced``; then, as on any error here, the actors already started are ended."""
    ray = import_ray()
    count = _actor_count(count, num_gpus)
    fields = {name: getattr(settings, name) for name in _SETTINGS_FIELDS}
    asked = {"CPU": num_cpus, "GPU": num_gpus}
    actor = ray.remote(num_gpus=num_gpus, num_cpus=num_cpus, max_concurrency=ACTOR_MAX_CONCURRENCY)(
        SimulatorActor
    )
    handles = tuple(actor.remote(spec, fields, f"actor-{i}") for i in range(count))
    try:
        names = [
            await _placed(handle, i, spec, asked, place_within) for i, handle in enumerate(handles)
        ]
    except BaseException:
        for handle in handles:
            ray.kill(handle)
        raise
    serving = tuple(handle.serve.remote() for handle in handles)  # for the actors' life
    return SimulatorActors(spec, handles, tuple(names), serving=serving)


async def _placed(
    handle: Any, index: int, spec: str, asked: dict[str, float], place_within: float
) -> str:
    what = f"simulator actor {index} ({spec})"
    try:
        name: str = await placed(handle.where.remote(), what, asked, place_within)
    except import_ray().exceptions.RayError as exc:
        raise SimulatorError(f"{what} could not start: {exc}") from exc
    return name
