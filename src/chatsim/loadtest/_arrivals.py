"""When conversations arrive: pure, seeded schedules (offsets in seconds from a stage's start).

Open loop with ramp-up: the arrival rate grows linearly from 0 to ``rate`` over ``ramp_up``
seconds, then stays. Arrivals are a unit-rate process (Poisson: exponential gaps; constant:
equal gaps) mapped through the inverse of the cumulative rate ``Λ(t)``: the standard
time-change construction, exact for any rate curve and needing no rejection sampling.
Closed loop with ramp-up: user ``i`` of ``n`` starts at ``i * ramp_up / n``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Literal

__all__ = ["arrival_offsets", "cumulative_arrivals", "user_start_offsets"]

Process = Literal["poisson", "constant"]


def cumulative_arrivals(t: float, rate: float, ramp_up: float) -> float:
    """``Λ(t)``: expected arrivals in ``[0, t]`` (the integral of the rate curve)."""
    if t <= 0:
        return 0.0
    if ramp_up <= 0:
        return rate * t
    if t <= ramp_up:
        return rate * t * t / (2.0 * ramp_up)
    return rate * ramp_up / 2.0 + rate * (t - ramp_up)


def _inverse(s: float, rate: float, ramp_up: float) -> float:
    """``Λ⁻¹(s)``: the time by which ``s`` arrivals are expected."""
    if ramp_up <= 0:
        return s / rate
    during_ramp = rate * ramp_up / 2.0
    if s <= during_ramp:
        return math.sqrt(2.0 * ramp_up * s / rate)
    return ramp_up + (s - during_ramp) / rate


def arrival_offsets(
    rate: float, *, process: Process = "poisson", ramp_up: float = 0.0, seed: int = 0
) -> Iterator[float]:
    """Arrival times (seconds from the stage's start), increasing, without end.

    ``constant`` starts at 0 (or, with a ramp, at the first whole expected arrival).
    """
    if rate <= 0:
        raise ValueError("rate must be > 0")
    rng = random.Random(seed)
    s = 0.0
    while True:
        if process == "poisson":
            s += rng.expovariate(1.0)
        yield _inverse(s, rate, ramp_up)
        if process == "constant":
            s += 1.0


def user_start_offsets(users: int, ramp_up: float) -> list[float]:
    """When each closed-loop user starts its first conversation (seconds from stage start)."""
    if users <= 0:
        return []
    return [i * ramp_up / users for i in range(users)]
