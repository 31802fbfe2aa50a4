"""A fake clock for tests: time moves only when a test (or a sleeper) moves it.

``FakeClock`` is a ``chatsim`` clock (``now()``, epoch seconds) with an ``async sleep`` to
inject wherever chatsim takes one (``TargetCaller(clock=..., sleep=...)``, the load-test
engine): a sleep returns at once, having advanced the clock, so a test of retries, rate limits
or deadlines never waits. It is not a scheduler: concurrent sleepers each add their own
seconds, in the order they run.
"""

from __future__ import annotations

import anyio.lowlevel

__all__ = ["FakeClock"]


class FakeClock:
    """Epoch seconds that stand still until ``advance`` or ``sleep`` moves them.

    ``sleeps`` lists every duration passed to ``sleep``, in call order, for assertions.
    """

    __slots__ = ("_now", "sleeps")

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The current fake time (seconds since the epoch)."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``; chatsim clocks never go back."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds})")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record ``seconds``, let other tasks run, then advance by them (a negative
        duration, like ``anyio.sleep``'s, does not wait at all)."""
        self.sleeps.append(seconds)
        # Yield first, then jump: tasks this sleeper has just started run at the time they
        # were started, as they would with real time.
        await anyio.lowlevel.checkpoint()
        self._now += max(0.0, seconds)
