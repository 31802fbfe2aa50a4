"""Which replica of a simulator fleet serves a turn: least-loaded at an episode's first turn,
then pinned to that replica for the rest of the episode.

Why pinned: a replica (vLLM, a GPU actor) keeps the KV cache of prompts it has seen, and each
turn's prompt is the previous one plus the new messages, so an episode that stays on one
replica reuses its prefix. Why least-loaded rather than a hash of the episode id: episodes
run from one to ten turns and replicas may differ in speed, so counting the turns each
replica has in flight (ties: the fewest episodes placed) keeps a slow or busy replica from
being handed an equal share. The same rule as verl's ``AsyncLLMServerManager`` (least
requests, then sticky by request id in a bounded LRU).

Pins live in a bounded LRU: a run of millions of episodes keeps only recent ones (an episode
is never told to the router as finished). A live episode whose pin was evicted is placed
again, least-loaded: still correct (every prompt is complete), only its cache is lost.

Failover: a replica whose turn failed for a reason of the replica (unreachable, 5xx,
timeout: the caller's retries spent) is *down* for ``cooldown`` seconds, and a success on it
brings it back at once. New episodes, and pinned ones at their next turn, avoid a down
replica while another is up; the failed turn itself stays a simulator error, as with one
server, so the episode is recorded as it failed (``--resume --retry-errors`` runs it again).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from chatsim._util._clock import Clock

__all__ = ["DOWN_COOLDOWN", "MAX_PINS", "ReplicaRouter"]

#: Seconds a replica is avoided after a turn failed on it (unless it answers meanwhile).
DOWN_COOLDOWN: Final = 30.0
#: Episode pins kept (an entry is a few dozen bytes); older ones are forgotten first.
MAX_PINS: Final = 100_000


class ReplicaRouter:
    """Places turns on ``replicas`` replicas (module doc). Not thread-safe: one event loop."""

    def __init__(
        self,
        replicas: int,
        *,
        clock: Clock,
        cooldown: float = DOWN_COOLDOWN,
        max_pins: int = MAX_PINS,
    ) -> None:
        if replicas < 1:
            raise ValueError("a fleet needs at least one replica")
        self._clock = clock
        self._cooldown = cooldown
        self._max_pins = max_pins
        self._pins: OrderedDict[str, int] = OrderedDict()
        self.in_flight = [0] * replicas
        """Turns sent to each replica and not yet answered."""
        self.placed = [0] * replicas
        """Episodes placed on each replica so far (a re-placed episode counts again)."""
        self._down_until = [float("-inf")] * replicas

    def acquire(self, episode_id: str) -> int:
        """The replica for this episode's next turn, counted as in flight until ``release``."""
        index = self._pins.get(episode_id)
        if index is not None and self._is_up(index):
            self._pins.move_to_end(episode_id)
        else:
            index = self._least_loaded()
            self._pins[episode_id] = index
            self._pins.move_to_end(episode_id)
            self.placed[index] += 1
            if len(self._pins) > self._max_pins:
                self._pins.popitem(last=False)
        self.in_flight[index] += 1
        return index

    def release(self, index: int, *, replica_failed: bool | None = False) -> None:
        """The turn on ``index`` is over. ``replica_failed``: True, it failed for the
        replica's sake (the replica goes down for the cooldown); False, the replica answered
        (it is up); None, no news (the turn was cancelled)."""
        self.in_flight[index] -= 1
        if replica_failed:
            self._down_until[index] = self._clock.now() + self._cooldown
        elif replica_failed is not None:
            self._down_until[index] = float("-inf")

    def pinned(self, episode_id: str) -> int | None:
        """The replica the episode is pinned to, if it is remembered."""
        return self._pins.get(episode_id)

    def is_down(self, index: int) -> bool:
        return not self._is_up(index)

    def _is_up(self, index: int) -> bool:
        return self._clock.now() >= self._down_until[index]

    def _least_loaded(self) -> int:
        candidates = [i for i in range(len(self.in_flight)) if self._is_up(i)]
        # Every replica down: place on them anyway; the turn's error is recorded as usual.
        candidates = candidates or list(range(len(self.in_flight)))
        return min(candidates, key=lambda i: (self.in_flight[i], self.placed[i], i))
