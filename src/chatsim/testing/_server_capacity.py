"""Scripted saturation for load tests, and ``x-ratelimit-*`` headers.

``Capacity`` is a pool of N workers: a request holds a worker for its whole reply (latency
included), further requests wait in FIFO order, so latency rises with load beyond
``workers / reply_time`` requests per second, a saturation point a load-test sweep can find.
With ``queue_limit``, requests that would wait behind that many others are rejected at once.

``RateLimitWindow`` counts requests and tokens per fixed one-minute window and reports them as
OpenAI's ``x-ratelimit-*`` headers; with ``enforce`` it answers 429 once a limit is spent.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Capacity", "CapacityGate", "RateLimitWindow", "RateLimits"]


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much the server can serve at once."""

    workers: int
    """Requests served at once; the rest queue."""
    queue_limit: int | None = None
    """Requests allowed to wait; beyond, ``reject_status`` at once (None: unbounded)."""
    reject_status: int = 429
    """429 (rate limited) or 503 (overloaded) for rejected requests."""
    retry_after: float | None = 1.0
    """``Retry-After`` seconds sent with a rejection (None: no header)."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("Capacity.workers must be >= 1")
        if self.queue_limit is not None and self.queue_limit < 0:
            raise ValueError("Capacity.queue_limit must be >= 0")


class CapacityGate:
    """The live side of ``Capacity``: a semaphore plus a count of waiters.

    asyncio primitives, because the server runs on aiohttp (asyncio only).
    """

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self._semaphore = asyncio.Semaphore(capacity.workers)
        self.waiting = 0
        self.max_waiting = 0
        self.rejected = 0

    def would_reject(self) -> bool:
        limit = self.capacity.queue_limit
        return limit is not None and self._semaphore.locked() and self.waiting >= limit

    async def acquire(self) -> None:
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self._semaphore.release()


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-minute limits the server reports (and optionally enforces)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    enforce: bool = False
    """Answer 429 (with ``Retry-After``) once a limit is spent in the current window."""


class RateLimitWindow:
    """Fixed one-minute windows of request and token counts."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._window_start = clock()
        self.requests = 0
        self.tokens = 0

    def _roll(self) -> float:
        now = self._clock()
        if now - self._window_start >= 60.0:
            self._window_start += 60.0 * math.floor((now - self._window_start) / 60.0)
            self.requests = self.tokens = 0
        return max(0.0, self._window_start + 60.0 - now)

    def reset_after(self) -> float:
        """Seconds until the current window ends and its counts start over."""
        return self._roll()

    def admit(self, tokens: int) -> float | None:
        """Count one request of ``tokens``; returns seconds to wait if it must be refused."""
        reset = self._roll()
        lim = self.limits
        over = (
            lim.requests_per_minute is not None and self.requests >= lim.requests_per_minute
        ) or (lim.tokens_per_minute is not None and self.tokens + tokens > lim.tokens_per_minute)
        if over and lim.enforce:
            return reset
        self.requests += 1
        self.tokens += tokens
        return None

    def headers(self) -> dict[str, str]:
        """OpenAI's ``x-ratelimit-*`` headers for the current window."""
        reset = f"{self._roll():.3f}s"
        out: dict[str, str] = {}
        lim = self.limits
        if lim.requests_per_minute is not None:
            out["x-ratelimit-limit-requests"] = str(lim.requests_per_minute)
            out["x-ratelimit-remaining-requests"] = str(
                max(0, lim.requests_per_minute - self.requests)
            )
            out["x-ratelimit-reset-requests"] = reset
        if lim.tokens_per_minute is not None:
            out["x-ratelimit-limit-tokens"] = str(lim.tokens_per_minute)
            out["x-ratelimit-remaining-tokens"] = str(max(0, lim.tokens_per_minute - self.tokens))
            out["x-ratelimit-reset-tokens"] = reset
        return out
