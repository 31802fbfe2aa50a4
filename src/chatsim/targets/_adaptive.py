"""Adaptive concurrency: AIMD on a resizable ``anyio.CapacityLimiter``.

Modelled on inspect_ai's ``AdaptiveConcurrencyController`` (decrease on retries behind a fixed
15 s wall-clock cooldown, +5 % per round of successes), with these differences:

- *Stale signals are ignored by round, not by timer.* Every cut starts a new round; a 429 on
  an attempt that was sent before the latest cut says nothing about the new limit and does not
  cut again. So one burst from 64 in-flight calls halves the limit once, while a limit that is
  still too high is cut again as soon as an attempt sent under it is refused, with no
  arbitrary cooldown either way.
- *Only rate limits cut.* 5xx and timeouts are retried but leave the limit alone: they say
  the server failed, not that we are over quota.
- *The Retry-After pause* (``RateLimits.pause``) stops new attempts target-wide for the
  server's hint, so the other callers do not keep earning 429s while the limit settles.
- *Time is the injected clock*, so behaviour is tested exactly, and every change is kept in
  ``changes`` for the run's summary.

Increase is additive: ``adaptive_increase`` slots after ``adaptive_quiet_period`` seconds
without a rate-limit error *and* a full round of successes at the current limit (a limit that
was never exercised is no evidence that a higher one is safe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import anyio

from chatsim.targets._policy import CallPolicy

__all__ = ["AdaptiveConcurrency", "LimitChange"]


@dataclass(frozen=True, slots=True)
class LimitChange:
    """One change of a target's concurrency limit."""

    at: float
    """Clock time of the change."""
    old: int
    new: int
    reason: Literal["rate_limit", "quiet_period"]


class AdaptiveConcurrency:
    """A target's concurrency limit and the rules that move it."""

    def __init__(self, policy: CallPolicy, now: float) -> None:
        self.maximum = policy.max_concurrency
        self.minimum = policy.min_concurrency
        self.enabled = policy.adaptive
        self._decrease = policy.adaptive_decrease
        self._increase = policy.adaptive_increase
        self._quiet = policy.adaptive_quiet_period
        self.limiter = anyio.CapacityLimiter(self.maximum)
        self.limit = self.maximum
        self.generation = 0
        """Round number; a cut starts a new round. Attempts note it when they are sent."""
        self._calm_since = now
        self._successes = 0
        self.changes: list[LimitChange] = []

    def on_rate_limit(self, sent_in_generation: int, now: float) -> None:
        """An attempt sent in round ``sent_in_generation`` was refused with a rate limit."""
        self._successes = 0
        self._calm_since = now
        if not self.enabled or sent_in_generation != self.generation:
            return
        self.generation += 1
        new = max(self.minimum, math.floor(self.limit * self._decrease))
        if new != self.limit:
            self._set(new, now, "rate_limit")

    def on_success(self, now: float) -> None:
        """An attempt succeeded."""
        if not self.enabled or self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes < self.limit or now - self._calm_since < self._quiet:
            return
        self._successes = 0
        self._calm_since = now
        self._set(min(self.maximum, self.limit + self._increase), now, "quiet_period")

    def _set(self, new: int, now: float, reason: Literal["rate_limit", "quiet_period"]) -> None:
        self.changes.append(LimitChange(now, self.limit, new, reason))
        self.limit = new
        # Lowering below the borrowed count is allowed: holders finish, newcomers wait.
        self.limiter.total_tokens = new
