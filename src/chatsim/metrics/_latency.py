"""Latency from the recorded timings: per target call, per episode, by turn.

Two clocks per call, so client-side queueing cannot hide an overloaded target:

- *sent*: from when the successful attempt was sent (the target's own latency);
- *requested*: from when the episode asked for the turn, so client queueing, failed attempts
  and retry waits are included (what a user would have felt).

Per call: TTFT (first token − start; streamed replies only), end-to-end, time per output token
(``(end − first token) / (completion tokens − 1)``, the mean inter-token latency), the
longest pause between arrivals of streamed content (the reply's worst stall, which a mean
hides) and output tokens per second over the sent end-to-end time. Per episode: wall time
split into simulator time (user turns), target time (assistant turns, retries included), queue
time (all turns) and the rest. Percentiles are numpy's linear interpolation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from chatsim.protocol._types import Role
from chatsim.recording._records import AttemptRecord, EpisodeRecord, TurnRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = [
    "CallTiming",
    "EpisodeTiming",
    "LatencySummary",
    "Percentiles",
    "call_timings",
    "episode_timing",
    "is_answered",
    "latency_facts",
    "latency_summary",
    "percentiles",
    "percentiles_of",
]


class Percentiles(BaseModel):
    """Distribution of one latency figure (seconds, or tokens/s); None fields when n == 0."""

    model_config = ConfigDict(frozen=True)

    n: int
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


def percentiles(values: Iterable[float | None]) -> Percentiles:
    """p50/p90/p95/p99, mean and max of the non-None values."""
    return percentiles_of(np.array([v for v in values if v is not None], dtype=np.float64))


def percentiles_of(values: npt.NDArray[np.float64]) -> Percentiles:
    """``percentiles`` of an array (every value counts)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return Percentiles(n=0)
    p50, p90, p95, p99 = (float(x) for x in np.percentile(arr, [50, 90, 95, 99]))
    return Percentiles(
        n=int(arr.size), mean=float(arr.mean()), p50=p50, p90=p90, p95=p95, p99=p99,
        max=float(arr.max()),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CallTiming:
    """Timings of one assistant turn (one target call, retries included)."""

    model: str
    episode_id: str
    turn: int
    """0-based assistant turn number within the episode."""
    attempts: int
    queue: float
    ttft_sent: float | None
    ttft_requested: float | None
    e2e_sent: float
    e2e_requested: float
    completion_tokens: int | None
    tpot: float | None
    max_token_gap: float | None
    connect_time: float | None
    """Seconds the successful attempt spent opening a new connection; None on a reused one."""
    tokens_per_s: float | None


def _ok_attempt(turn: TurnRecord) -> AttemptRecord | None:
    """The attempt whose reply counts (the last successful one), if any."""
    ok = [a for a in turn.attempts if a.outcome == "ok"]
    return ok[-1] if ok else None


def _sent_at(turn: TurnRecord, attempt: AttemptRecord | None) -> float:
    """When the reply that counts was sent: on the wire where recorded (schema 2), else
    when its attempt began."""
    if attempt is None:
        return turn.started_at
    return attempt.started_at if attempt.sent_at is None else attempt.sent_at


def _call(ep: EpisodeRecord, number: int, turn: TurnRecord) -> CallTiming:
    attempt = _ok_attempt(turn)
    sent = _sent_at(turn, attempt)
    first = turn.first_token_at
    tokens = turn.usage.completion_tokens if turn.usage is not None else None
    e2e = turn.ended_at - sent
    tpot = None
    if first is not None and tokens is not None and tokens > 1:
        tpot = (turn.ended_at - first) / (tokens - 1)
    return CallTiming(
        model=ep.model,
        episode_id=ep.episode_id,
        turn=number,
        attempts=max(1, len(turn.attempts)),
        queue=turn.queue_time,
        ttft_sent=None if first is None else first - sent,
        ttft_requested=None if first is None else first - turn.requested_at,
        e2e_sent=e2e,
        e2e_requested=turn.ended_at - turn.requested_at,
        completion_tokens=tokens,
        tpot=tpot,
        max_token_gap=turn.max_token_gap,
        connect_time=attempt.connect_time if attempt is not None else None,
        tokens_per_s=tokens / e2e if tokens and e2e > 0 else None,
    )


def is_answered(turn: TurnRecord) -> bool:
    """A reply arrived (a turn that failed for good has attempts but none ``ok``)."""
    return not turn.attempts or any(a.outcome == "ok" for a in turn.attempts)


def call_timings(episodes: Iterable[EpisodeRecord]) -> list[CallTiming]:
    """One ``CallTiming`` per answered assistant turn (failed calls are counted by the
    recovery figures, not timed as if they were replies)."""
    out = []
    for ep in episodes:
        assistant = [t for t in ep.turns if t.role is Role.ASSISTANT]
        out += [_call(ep, i, t) for i, t in enumerate(assistant) if is_answered(t)]
    return out


@dataclass(frozen=True, slots=True)
class EpisodeTiming:
    """An episode's wall time, split by where it went (seconds)."""

    model: str
    episode_id: str
    wall: float
    simulator: float
    target: float
    queue: float
    other: float
    """Wall time not in any turn (the episode's own overhead, gaps between turns)."""


def _working(turn: TurnRecord) -> float:
    """A turn's time from request to end, less its queueing: every attempt and retry wait."""
    return max(0.0, turn.ended_at - turn.requested_at - turn.queue_time)


def episode_timing(ep: EpisodeRecord) -> EpisodeTiming:
    """Split one episode's wall time into simulator, target (retries and their waits
    included), queue and other time."""
    sim = sum(_working(t) for t in ep.turns if t.role is Role.USER)
    target = sum(_working(t) for t in ep.turns if t.role is Role.ASSISTANT)
    queue = sum(t.queue_time for t in ep.turns)
    wall = ep.ended_at - ep.started_at
    return EpisodeTiming(
        model=ep.model, episode_id=ep.episode_id, wall=wall, simulator=sim, target=target,
        queue=queue, other=max(0.0, wall - sim - target - queue),
    )  # fmt: skip


class TurnLatency(BaseModel):
    """Latency of the n-th assistant turn across episodes."""

    model_config = ConfigDict(frozen=True)

    ttft_sent: Percentiles
    e2e_sent: Percentiles
    e2e_requested: Percentiles


class LatencySummary(BaseModel):
    """A model's latency figures (seconds unless named otherwise)."""

    model_config = ConfigDict(frozen=True)

    calls: int
    ttft_sent: Percentiles
    ttft_requested: Percentiles
    e2e_sent: Percentiles
    e2e_requested: Percentiles
    tpot: Percentiles
    """Time per output token after the first (mean inter-token latency)."""
    max_token_gap: Percentiles = Percentiles(n=0)
    """Per reply, the longest pause between arrivals of streamed content (its worst stall)."""
    connect: Percentiles = Percentiles(n=0)
    """Opening a new connection (DNS, TCP, TLS), for the calls that opened one."""
    tokens_per_s: Percentiles
    queue: Percentiles
    """Client-side queue time per call."""
    simulator_turn: Percentiles
    """Duration of the simulator's turns."""
    episode_wall: Percentiles
    episode_simulator: Percentiles
    episode_target: Percentiles
    episode_queue: Percentiles
    by_turn: dict[int, TurnLatency]
    """0-based assistant turn number -> its latency."""


_BY_TURN = ("ttft_sent", "e2e_sent", "e2e_requested")
_CALL_FIGURES = ("ttft_sent", "ttft_requested", "e2e_sent", "e2e_requested", "tpot",
                 "max_token_gap", "connect_time", "tokens_per_s", "queue")  # fmt: skip


def latency_facts(frame: Frame) -> LatencySummary:
    """Latency over a group of episodes, from their facts; one per-call column at a time
    (its overall and per-turn figures), so that only one is held."""
    turn = frame.flat("call_turn")
    turns = [int(n) for n in np.unique(turn)]
    overall: dict[str, Percentiles] = {}
    per_turn: dict[str, dict[int, Percentiles]] = {}
    for name in _CALL_FIGURES:
        values, valid = frame.flat_with_nulls(f"call_{name}")
        overall[name] = percentiles_of(values[valid])
        if name in _BY_TURN:
            per_turn[name] = {n: percentiles_of(values[valid & (turn == n)]) for n in turns}

    def per_episode(name: str) -> Percentiles:
        return percentiles_of(frame.values(name))

    by_turn = {n: TurnLatency(**{name: per_turn[name][n] for name in _BY_TURN}) for n in turns}
    return LatencySummary(
        calls=int(turn.size),
        ttft_sent=overall["ttft_sent"],
        ttft_requested=overall["ttft_requested"],
        e2e_sent=overall["e2e_sent"],
        e2e_requested=overall["e2e_requested"],
        tpot=overall["tpot"],
        max_token_gap=overall["max_token_gap"],
        connect=overall["connect_time"],
        tokens_per_s=overall["tokens_per_s"],
        queue=overall["queue"],
        simulator_turn=percentiles_of(frame.flat("user_turn_seconds")),
        episode_wall=per_episode("wall"),
        episode_simulator=per_episode("time_simulator"),
        episode_target=per_episode("time_target"),
        episode_queue=per_episode("time_queue"),
        by_turn=by_turn,
    )


def latency_summary(episodes: Sequence[EpisodeRecord]) -> LatencySummary:
    """Latency over a group of episodes (``latency_facts`` of their facts)."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return latency_facts(frame_of(episodes))
