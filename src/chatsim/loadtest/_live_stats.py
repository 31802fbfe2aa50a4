"""Counters and a sliding latency window, updated as calls and conversations happen.

The live view and the time series read these; the summary itself is recomputed from the
records afterwards. Everything here is O(1) per event (a few integer updates and one deque
append per call): at thousands of calls per second it must not show up in a profile.
"""

from __future__ import annotations

import math
import os
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chatsim._exceptions import TargetError
from chatsim.targets import CallPolicy, TargetAdapter, TargetCaller, TargetReply, TargetRequest

__all__ = ["COUNTERS", "LiveStats", "ObservedCaller", "Recent", "Sample", "resident_memory"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_memory() -> int | None:
    """This process's resident set size in bytes now (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


Recent = tuple[float, float, float]
"""One successful call for the sliding window: (end time, TTFT or nan, end-to-end)."""

COUNTERS = (
    "arrivals", "in_flight", "completed", "errors", "abandoned", "calls", "call_errors",
    "calls_in_flight",
)  # fmt: skip
"""The running totals a Ray worker reports and the driver adds up (``counters``)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The counters at one moment (the time series' raw material)."""

    t: float
    stage: int
    arrivals: int
    in_flight: int
    calls_in_flight: int
    rss: int | None = None
    """Resident memory of the process, bytes (Linux)."""


@dataclass(slots=True)
class LiveStats:
    """Running totals of the whole run, plus the current stage's index."""

    window: float = 10.0
    stage: int = -1
    load: float = 0.0
    arrivals: int = 0
    in_flight: int = 0
    completed: int = 0
    errors: int = 0
    abandoned: int = 0
    calls: int = 0
    call_errors: int = 0
    calls_in_flight: int = 0
    max_calls_in_flight: int = 0
    samples: list[Sample] = field(default_factory=list)
    # (end time, ttft or nan, e2e) of recent successful calls, oldest first.
    _recent: deque[Recent] = field(default_factory=deque)

    def call_started(self) -> None:
        self.calls_in_flight += 1
        if self.calls_in_flight > self.max_calls_in_flight:
            self.max_calls_in_flight = self.calls_in_flight

    def call_succeeded(self, reply: TargetReply) -> None:
        self.calls_in_flight -= 1
        self.calls += 1
        first = reply.timing.first_token_at
        sent = reply.started_at
        ttft = first - sent if first is not None else math.nan
        self._recent.append((reply.ended_at, ttft, reply.ended_at - sent))

    def call_failed(self) -> None:
        self.calls_in_flight -= 1
        self.calls += 1
        self.call_errors += 1

    def counters(self) -> tuple[int, ...]:
        """The ``COUNTERS``, in that order."""
        return tuple(getattr(self, name) for name in COUNTERS)

    def set_counters(self, values: tuple[int, ...]) -> None:
        """Set the ``COUNTERS`` (a driver's sum over its workers)."""
        for name, value in zip(COUNTERS, values, strict=True):
            setattr(self, name, value)

    def take_recent(self) -> list[Recent]:
        """The window's calls so far, emptying it (a worker ships them to its driver)."""
        taken = list(self._recent)
        self._recent.clear()
        return taken

    def add_recent(self, calls: list[Recent]) -> None:
        """Calls timed elsewhere (a Ray worker's), for the sliding window."""
        self._recent.extend(calls)

    def sample(self, now: float) -> Sample:
        """Record (and return) the counters at ``now``."""
        point = Sample(
            now, self.stage, self.arrivals, self.in_flight, self.calls_in_flight, resident_memory()
        )
        self.samples.append(point)
        return point

    def recent_latency(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """TTFT and end-to-end latency (from send) of calls that ended in the last ``window``."""
        recent = self._recent
        horizon = now - self.window
        while recent and recent[0][0] < horizon:
            recent.popleft()
        if not recent:
            return np.empty(0), np.empty(0)
        data = np.array(recent, dtype=np.float64)
        ttft = data[:, 1]
        return ttft[~np.isnan(ttft)], data[:, 2]


class ObservedCaller(TargetCaller):
    """A ``TargetCaller`` that reports each call's outcome to ``LiveStats`` as it happens."""

    def __init__(
        self,
        adapter: TargetAdapter,
        policy: CallPolicy,
        *,
        stats: LiveStats,
        **caller_args: Any,
    ) -> None:
        super().__init__(adapter, policy, **caller_args)
        self.live = stats

    async def call(self, request: TargetRequest, *, deadline: float | None = None) -> TargetReply:
        live = self.live
        live.call_started()
        try:
            reply = await super().call(request, deadline=deadline)
        except TargetError:
            live.call_failed()
            raise
        except BaseException:  # cancelled (drain deadline, Ctrl-C): not an outcome
            live.calls_in_flight -= 1
            raise
        live.call_succeeded(reply)
        return reply
