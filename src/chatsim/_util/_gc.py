"""Keeping CPython's cyclic garbage collector from stalling the event loop during a run.

Measured: a load test with 5,000 conversations in flight keeps ~140 GC-tracked objects per
conversation (aiohttp connection and response, asyncio task and handles, anyio cancel scopes,
coroutine frames, messages), ~800,000 with the process's own; an evaluation run with a local
simulator has torch, transformers and the model's modules loaded (~540,000 objects) and keeps
every finished episode's record. These live for the whole run, so they reach the oldest
generation, and CPython (<= 3.13) runs a full, stop-the-world collection each time that
generation has grown by 25%: 100-650 ms here each time, and none of them found any garbage
worth the pause. Every reply arriving during one is timed late, and a GPU simulator waits for
its next batch: a benchmark that measures itself.

The policy: collect once and freeze (``gc.freeze()``: move every tracked object to the
permanent generation, never scanned) at the start, then freeze again each tick (about once a
second), so collections only ever scan what was allocated since the last tick. Objects still
die by reference counting as usual; only garbage *cycles* (mostly exceptions with their
tracebacks, i.e. failures) that outlive a tick wait for the next full collection, which runs
at stage boundaries (no load then), after ``max_errors`` failures, and at the latest every
``max_interval`` seconds. ``stop`` unfreezes, handing the heap back to the normal collector.
A caller that froze objects itself keeps control: the policy then does nothing.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["DEFAULT_GC_MAX_ERRORS", "DEFAULT_GC_MAX_INTERVAL", "GcPolicy"]

DEFAULT_GC_MAX_ERRORS = 10_000
"""Failures (failed calls, failed or abandoned conversations) before a full collection."""
DEFAULT_GC_MAX_INTERVAL = 600.0
"""Seconds between full collections at most."""
TICK_SECONDS = 1.0
"""How often a run without its own sampling clock should ``tick``."""


class GcPolicy:
    """Freezes the heap each tick; collects fully at stage boundaries and on the limits.

    ``failures`` counts the run's failures so far (each may have left a garbage cycle).
    """

    def __init__(
        self,
        failures: Callable[[], int],
        *,
        enabled: bool = True,
        max_errors: int = DEFAULT_GC_MAX_ERRORS,
        max_interval: float = DEFAULT_GC_MAX_INTERVAL,
    ) -> None:
        self.failures = failures
        self.enabled = enabled
        self.max_errors = max_errors
        self.max_interval = max_interval
        self.full_collections = 0
        self._active = False
        self._last_full = 0.0
        self._errors_at_full = 0

    def _collect(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.full_collections += 1
        self._last_full = time.monotonic()
        self._errors_at_full = self.failures()

    def start(self) -> None:
        """Collect once, then freeze what the set-up left (modules, model, questions)."""
        if not self.enabled or self._active:
            return
        if gc.get_freeze_count() or not gc.isenabled():
            return  # someone else manages the collector
        self._active = True
        self._collect()

    def tick(self) -> None:
        """Freeze what survived since the last tick, or collect fully when a limit is hit."""
        if not self._active:
            return
        overdue = time.monotonic() - self._last_full >= self.max_interval
        if overdue or self.failures() - self._errors_at_full >= self.max_errors:
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
