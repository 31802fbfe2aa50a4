"""Think time: the pause between reading a reply and sending the next message.

A ``TurnSource`` wrapper, so the episode loop stays the runner's: before every user turn that
answers a reply (every step but the first), it sleeps, then asks the wrapped source. The user
turn's record keeps ``requested_at`` from before the pause and gets ``started_at`` after it,
so the pause shows as the gap between them, not as simulator time.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio

from chatsim._util._clock import Clock
from chatsim.protocol import SimulatorStep
from chatsim.runner import derive_seed
from chatsim.simulators import TurnSource, UserTurn, UserTurnRequest

__all__ = ["ThinkingTurnSource", "think_seconds"]

Sleep = Callable[[float], Awaitable[None]]
_UNIT = float(1 << 53)


def think_seconds(mean: float, distribution: Literal["fixed", "exponential"], seed: int) -> float:
    """The pause before one turn: ``mean``, or an exponential draw with that mean (seeded)."""
    if mean <= 0:
        return 0.0
    if distribution == "fixed":
        return mean
    u = (derive_seed(seed, "think") & ((1 << 53) - 1)) / _UNIT  # uniform in [0, 1)
    return -mean * math.log1p(-u)


class ThinkingTurnSource:
    """Waits ``think_seconds(mean, distribution, request.seed)`` before each later user turn."""

    def __init__(
        self,
        inner: TurnSource,
        mean: float,
        distribution: Literal["fixed", "exponential"] = "fixed",
        *,
        clock: Clock,
        sleep: Sleep | None = None,
    ) -> None:
        self.inner = inner
        self._now = clock.now
        self.mean = mean
        self.distribution: Literal["fixed", "exponential"] = distribution
        self._sleep: Sleep = sleep or anyio.sleep

    async def request(self, request: UserTurnRequest) -> UserTurn:
        if request.step is SimulatorStep.FIRST:
            return await self.inner.request(request)
        pause = think_seconds(self.mean, self.distribution, request.seed)
        if pause <= 0:
            return await self.inner.request(request)
        await self._sleep(pause)
        started = self._now()
        turn = await self.inner.request(request)
        if turn.started_at is None:
            turn.started_at = started
            turn.ended_at = turn.ended_at if turn.ended_at is not None else self._now()
        return turn
