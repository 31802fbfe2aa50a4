"""One clock for every timestamp chatsim records.

Records need wall-clock times (to line episodes up on a timeline, across resumed processes)
but durations must come from a monotonic clock. ``Clock.now()`` gives epoch seconds that
advance monotonically: the wall time at construction plus elapsed ``perf_counter`` time.
Tests inject a fake clock so that nothing waits for real.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "MonotonicWallClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, monotonic within a process."""
        ...


class MonotonicWallClock:
    """Epoch seconds anchored once, advanced by ``time.perf_counter``."""

    __slots__ = ("_anchor_perf", "_anchor_wall")

    def __init__(self) -> None:
        self._anchor_wall = time.time()
        self._anchor_perf = time.perf_counter()

    def now(self) -> float:
        return self._anchor_wall + (time.perf_counter() - self._anchor_perf)
