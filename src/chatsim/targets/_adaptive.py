"""Adaptive concurrency: AIMD on a resizable ``anyio.CapacityLimiter``, cut only under pressure.

Modelled on inspect_ai's ``AdaptiveConcurrencyController`` (decrease on retries behind a fixed
15 s wall-clock cooldown, +5 % per round of successes), with these differences:

- *Pressure, not a single 429, is the signal.* Scattered 429s (a shared gateway, a noisy
  neighbour: 1-10 % of requests) say "this request, later", and each refused call already waits
  its own Retry-After. Cutting the limit, or pausing every caller, on each of them turned a 4 %
  rate of 429s into a run 5-25x slower (issue 15; ``benchmarks/bench_429.py``). So the target
  is *under pressure* only when at least ``pressure_share`` of its last ``pressure_window``
  attempts were refused with a rate limit (``max(1, ceil(share * window))`` of them); a
  really over-quota endpoint refuses most attempts and crosses that at once.
- *Stale signals are ignored by round, not by timer.* Every cut starts a new round and clears
  the evidence; outcomes of attempts sent before the latest cut say nothing about the new
  limit and are not counted. So one burst from 64 in-flight calls halves the limit once, while
  a limit that is still too high is cut again as soon as attempts sent under it are refused
  often enough, with no arbitrary cooldown either way.
- *Only rate limits cut.* 5xx and timeouts are retried but leave the limit alone: they say
  the server failed, not that we are over quota.
- *The Retry-After pause* (``RateLimits.pause``) stops new attempts target-wide for the
  server's hint, but only under pressure (``under_pressure``), so the other callers do not keep
  earning 429s while the limit settles, and do not all stop for one isolated 429.
- *Time is the injected clock*, so behaviour is tested exactly, and every change is kept in
  ``changes`` for the run's summary.

Increase is additive: ``adaptive_increase`` slots after ``adaptive_quiet_period`` seconds
without pressure *and* a full round of successes at the current limit (a limit that was never
exercised is no evidence that a higher one is safe).
"""

from __future__ import annotations

import math
from collections import deque
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
    reason: Literal["rate_limit", "quiet_period", "reshare"]


class AdaptiveConcurrency:
    """A target's concurrency limit, its rate-limit pressure, and the rules that move them."""

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
        self._recent: deque[bool] = deque(maxlen=policy.pressure_window)
        """Outcomes (True: rate-limited) of this round's latest attempts."""
        self._refused = 0
        """Rate-limited entries in ``_recent``."""
        self._needed = max(1, math.ceil(policy.pressure_share * policy.pressure_window))
        self.changes: list[LimitChange] = []

    @property
    def under_pressure(self) -> bool:
        """Whether enough of this round's recent attempts were refused to mean "over quota"."""
        return self._refused >= self._needed

    def _observe(self, refused: bool) -> None:
        recent = self._recent
        if len(recent) == recent.maxlen and recent[0]:
            self._refused -= 1
        recent.append(refused)
        self._refused += refused

    def on_rate_limit(self, sent_in_generation: int, now: float) -> bool:
        """An attempt sent in round ``sent_in_generation`` was refused with a rate limit.

        Returns whether the target is under pressure (before a cut clears the evidence): the
        caller then pauses every new attempt for the server's Retry-After.
        """
        if sent_in_generation != self.generation:
            return False  # sent before the latest cut: no evidence about the current limit
        self._observe(True)
        if not self.under_pressure:
            return False  # scattered: the refused call waits its own Retry-After, no one else
        self._successes = 0
        self._calm_since = now
        if not self.enabled:
            return True
        new = max(self.minimum, math.floor(self.limit * self._decrease))
        if new != self.limit:
            self.generation += 1
            self._recent.clear()
            self._refused = 0
            self._set(new, now, "rate_limit")
        return True

    def on_success(self, now: float, sent_in_generation: int | None = None) -> None:
        """An attempt (sent in round ``sent_in_generation``, None: the current) succeeded."""
        if sent_in_generation is None or sent_in_generation == self.generation:
            self._observe(False)
        if not self.enabled or self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes < self.limit or now - self._calm_since < self._quiet:
            return
        self._successes = 0
        self._calm_since = now
        self._set(min(self.maximum, self.limit + self._increase), now, "quiet_period")

    def resize(self, maximum: int, minimum: int, now: float) -> None:
        """New bounds in place (a Ray worker's share as workers come and go). The limit keeps
        its place between the bounds, so a cut made under pressure survives the reshare."""
        minimum = min(minimum, maximum)
        scaled = round(self.limit * maximum / self.maximum)
        self.maximum, self.minimum = maximum, minimum
        new = max(minimum, min(maximum, scaled))
        if new != self.limit:
            self._set(new, now, "reshare")

    def _set(
        self, new: int, now: float, reason: Literal["rate_limit", "quiet_period", "reshare"]
    ) -> None:
        self.changes.append(LimitChange(now, self.limit, new, reason))
        self.limit = new
        # Lowering below the borrowed count is allowed: holders finish, newcomers wait.
        self.limiter.total_tokens = new
