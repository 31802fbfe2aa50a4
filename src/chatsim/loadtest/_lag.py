"""Event-loop lag: how late a timer fires, measured continuously by one small task.

A client whose event loop is late sends late and reads late, so every latency it reports is
inflated by about that much. The monitor sleeps ``interval`` seconds over and over and records
how much longer each sleep took (wall time, ``perf_counter``; never an injected clock). The
live view shows the recent p99; the summary gets the distribution per stage and per bucket.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable

import anyio
import numpy as np

__all__ = ["DEFAULT_LAG_INTERVAL", "LagMonitor"]

DEFAULT_LAG_INTERVAL = 0.01
"""Seconds between lag probes: 100 wake-ups per second cost well under 1% of a core."""


class LagMonitor:
    """Records ``(time, lag)`` pairs while ``run`` runs (in the caller's task group).

    ``now`` stamps each sample (the run's clock, so samples line up with the records; by
    default ``perf_counter``); the lag itself is always measured with ``perf_counter``.
    """

    def __init__(
        self,
        interval: float = DEFAULT_LAG_INTERVAL,
        *,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.interval = interval
        self._stamp = now or time.perf_counter
        self.times = array("d")
        self.lags = array("d")

    async def run(self) -> None:
        """Probe until cancelled."""
        interval = self.interval
        perf = time.perf_counter
        while True:
            before = perf()
            await anyio.sleep(interval)
            after = perf()
            self.times.append(self._stamp())
            self.lags.append(max(0.0, after - before - interval))

    def recent(self, seconds: float, now: float) -> np.ndarray:
        """Lags observed in the last ``seconds`` (``now`` on the stamping clock)."""
        times = np.frombuffer(self.times, dtype=np.float64) if self.times else np.empty(0)
        lags = np.frombuffer(self.lags, dtype=np.float64) if self.lags else np.empty(0)
        start = int(np.searchsorted(times, now - seconds, side="left"))
        return lags[start:].copy()

    def between(self, start: float, end: float) -> np.ndarray:
        """Lags observed in ``[start, end)`` (on the stamping clock)."""
        if not self.times:
            return np.empty(0)
        times = np.frombuffer(self.times, dtype=np.float64)
        lags = np.frombuffer(self.lags, dtype=np.float64)
        lo = int(np.searchsorted(times, start, side="left"))
        hi = int(np.searchsorted(times, end, side="left"))
        return lags[lo:hi].copy()

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """All ``(times, lags)`` so far, as copies."""
        return (
            np.array(self.times, dtype=np.float64),
            np.array(self.lags, dtype=np.float64),
        )
