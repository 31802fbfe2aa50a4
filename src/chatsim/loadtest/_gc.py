"""Keeping CPython's cyclic garbage collector from stalling the event loop under load.

Measured (benchmarks/bench_scale.py, 5,000 conversations in flight): each in-flight
conversation keeps ~140 GC-tracked objects (aiohttp connection and response, asyncio task and
handles, anyio cancel scopes, coroutine frames, messages), ~800,000 with the process's own.
Those objects live for the whole reply, so they are promoted to the oldest generation, and
CPython (<= 3.13) runs a full, stop-the-world collection each time that generation has grown
by 25%: every ~6 s here, 560-650 ms each, and none of them found any garbage. Every stream in
flight during such a pause gets its timestamps late: a load tester that measures itself.

The policy: freeze (``gc.freeze()``: move every tracked object to the permanent generation,
O(1)) at the start and then once per sample tick, so collections only ever scan what was
allocated since the last tick. Objects still die by reference counting as usual; only garbage
*cycles* (mostly exceptions with their tracebacks) that outlive a tick wait for the next full
collection, which runs at each stage boundary (no load then), after ``max_errors`` failures
(the main source of cycles), and at the latest every ``max_interval`` seconds. ``stop``
unfreezes, handing the heap back to the normal collector.
"""

from __future__ import annotations

import gc
import time

from chatsim.loadtest._live_stats import LiveStats

__all__ = ["DEFAULT_GC_MAX_ERRORS", "DEFAULT_GC_MAX_INTERVAL", "GcPolicy"]

DEFAULT_GC_MAX_ERRORS = 10_000
"""Failures (failed calls, failed or abandoned conversations) before a full collection."""
DEFAULT_GC_MAX_INTERVAL = 600.0
"""Seconds between full collections at most."""


class GcPolicy:
    """Freezes the heap each tick; collects fully at stage boundaries and on the limits."""

    def __init__(
        self,
        stats: LiveStats,
        *,
        enabled: bool = True,
        max_errors: int = DEFAULT_GC_MAX_ERRORS,
        max_interval: float = DEFAULT_GC_MAX_INTERVAL,
    ) -> None:
        self.stats = stats
        self.enabled = enabled
        self.max_errors = max_errors
        self.max_interval = max_interval
        self.full_collections = 0
        self._active = False
        self._last_full = 0.0
        self._errors_at_full = 0

    def _failures(self) -> int:
        stats = self.stats
        return stats.call_errors + stats.errors + stats.abandoned

    def _collect(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.full_collections += 1
        self._last_full = time.monotonic()
        self._errors_at_full = self._failures()

    def start(self) -> None:
        """Collect once, then freeze what the set-up left (modules, questions, schemas)."""
        if self.enabled and not self._active:
            self._active = True
            self._collect()

    def tick(self) -> None:
        """Freeze what survived since the last tick, or collect fully when a limit is hit."""
        if not self._active:
            return
        overdue = time.monotonic() - self._last_full >= self.max_interval
        if overdue or self._failures() - self._errors_at_full >= self.max_errors:
            self._collect()
        else:
            gc.freeze()

    def stage_boundary(self) -> None:
        """A full collection while no load runs (between stages)."""
        if self._active:
            self._collect()

    def stop(self) -> None:
        """Hand everything back to the normal collector."""
        if self._active:
            self._active = False
            gc.unfreeze()
