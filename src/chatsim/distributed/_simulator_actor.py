"""The ``hf:`` simulator actor: one simulator in its own process (a Ray async actor), loaded
once and batching the turns of every episode worker (``_simulators`` starts, routes to and
stops them).

It loads the model in ``serve`` (``create_simulator``, as one process does), not in its
constructor, so that ``where`` answers as soon as Ray has placed it and the owner's placement
deadline does not count the load. It runs the model behind its own ``MicroBatcher``:
concurrent turns from every worker land in the actor's event loop and are batched there, so a
GPU sees batches as full as one process would give it. A turn's errors come back as text in
``ActorReply`` (they cross a process boundary); a failure to start is what ``ready`` raises.

This module does not import ``ray`` at import time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from chatsim._exceptions import SimulatorError
from chatsim._util._clock import MonotonicWallClock
from chatsim.distributed._ray import import_ray
from chatsim.simulators import TurnSource, UserTurn, UserTurnRequest
from chatsim.simulators._batcher import BatcherStats, MicroBatcher
from chatsim.simulators._contract import SimulatorBackend
from chatsim.simulators._registry import SimulatorSettings, create_simulator, open_turn_source

__all__ = ["ACTOR_MAX_CONCURRENCY", "ActorReply", "SimulatorActor"]

#: Turns one actor takes at once (Ray's default for async actors is 1,000): every episode of
#: every worker may be waiting on it, and its own batcher bounds what it generates.
ACTOR_MAX_CONCURRENCY: Final = 100_000


@dataclass(frozen=True, slots=True)
class ActorReply:
    """One turn as an actor returns it, on the actor's clock."""

    turn: UserTurn | None
    error: str | None
    received_at: float
    replied_at: float


class SimulatorActor:
    """One simulator in its own process (a Ray async actor; ``ray.remote`` wraps it)."""

    def __init__(self, spec: str, settings: dict[str, Any], name: str) -> None:
        self.name = name
        self.spec = spec
        self.clock = MonotonicWallClock()
        self.settings = SimulatorSettings(**settings)
        self.backend: SimulatorBackend | None = None
        self._source: TurnSource | None = None
        self._failure: BaseException | None = None
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()

    async def where(self) -> str:
        """The actor's name and where it runs: ``actor-<i>@<node address>[gpu <ids>]``. It
        answers as soon as Ray has placed the actor, before the model loads."""
        ray = import_ray()
        gpus = ray.get_gpu_ids()
        where = f"{self.name}@{ray.util.get_node_ip_address()}"
        return f"{where}[gpu {','.join(map(str, gpus))}]" if gpus else where

    async def serve(self) -> None:
        """Load the model, then run the batcher until ``stop`` (the owner calls it once, for
        the actor's life). A failure to start is what ``ready`` raises (and ``turn`` answers),
        never a wait that does not end."""
        try:
            # Here, not in __init__: `where` answers before the load, so the owner's
            # placement deadline does not count the model's load time.
            self.backend = backend = create_simulator(self.spec, self.settings, self.clock)
            try:
                async with open_turn_source(backend, self.settings) as source:
                    self._source = source
                    self._ready.set()
                    await self._stopping.wait()
            finally:
                await backend.aclose()
        except BaseException as exc:
            if not self._ready.is_set():
                stopped = SimulatorError(f"simulator actor {self.name} stopped before it started")
                self._failure = exc if isinstance(exc, Exception) else stopped
            raise
        finally:
            self._ready.set()

    async def ready(self) -> int:
        """The actor's largest batch, once its model is loaded and its batcher runs (the
        load's error, if it failed)."""
        await self._ready.wait()
        if self._failure is not None:
            raise self._failure
        assert self.backend is not None
        return self.backend.max_batch_size if self.backend.batched else 1

    async def turn(self, request: UserTurnRequest) -> ActorReply:
        """One user turn, batched with the others in flight. Errors come back as text:
        they cross a process boundary, and a simulator error is an outcome, not a crash."""
        await self._ready.wait()
        received = self.clock.now()
        if self._source is None:  # it could not start: ready() raises why
            why = f"simulator actor {self.name} could not start: {self._failure!r}"
            return ActorReply(None, why, received, self.clock.now())
        try:
            turn = await self._source.request(request)
        except SimulatorError as exc:
            return ActorReply(None, str(exc), received, self.clock.now())
        return ActorReply(turn, None, received, self.clock.now())

    async def stats(self) -> BatcherStats | None:
        """What the actor's batcher did so far (None for a backend it does not batch)."""
        await self._ready.wait()
        return self._source.stats if isinstance(self._source, MicroBatcher) else None

    async def stop(self) -> None:
        self._stopping.set()
