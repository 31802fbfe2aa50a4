"""Recovery: what retries did for a run (issue 3's figures). Zeros when nothing failed.

Target-side and simulator-side figures are kept apart: a served or prompted simulator's
failures (its 429s, its timeouts, episodes it lost) are not the target's, and counting them
against it would blame the model under test for the simulator's endpoint (issue 15).

- retried calls: assistant turns (target calls) that took more than one attempt; simulator
  calls that were retried are ``simulator_retried_calls``;
- recovered episodes: episodes whose target calls met at least one rate-limit, transient,
  timeout or connect-timeout failure and still reached an answer;
- episodes lost to target errors: ``target_error`` terminations (a refused credential stops
  the run without writing a record); to the simulator: ``simulator_error`` terminations;
- latency added by retries: time spent in failed attempts plus the waits after them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from chatsim.protocol._types import Role, TerminationReason
from chatsim.recording._records import EpisodeRecord, TurnRecord

__all__ = ["RecoverySummary", "recovery_summary", "retry_time"]

_RETRYABLE = frozenset({"rate_limit", "transient", "timeout", "connect_timeout"})


class RecoverySummary(BaseModel):
    """Retry and recovery figures over a group of episodes, the target's and the simulator's."""

    model_config = ConfigDict(frozen=True)

    calls: int
    """Target calls (assistant turns) with recorded attempts."""
    retried_calls: int
    """Target calls that took more than one attempt."""
    simulator_retried_calls: int
    """Simulator calls that took more than one attempt."""
    failed_attempts: dict[str, int]
    """Failed target attempts by outcome (``rate_limit``, ``transient``, ``timeout``,
    ``connect_timeout``, ...); the simulator's are in ``simulator_failed_attempts``."""
    episodes_with_failures: int
    """Episodes whose target calls met at least one retryable failure."""
    recovered_episodes: int
    """Of those, episodes that still reached an answer."""
    lost_to_target_errors: int
    """Episodes that ended in ``target_error``."""
    retry_seconds: float
    """Total time in failed target attempts plus the waits after them."""
    retry_seconds_per_retried_call: float | None
    """``retry_seconds / retried_calls``; None when nothing was retried."""
    simulator_calls: int = 0
    """Simulator calls (user turns) with recorded attempts (served or prompted simulators)."""
    simulator_failed_attempts: dict[str, int] = Field(default_factory=dict)
    """Failed simulator attempts by outcome."""
    simulator_retry_seconds: float = 0.0
    """Time in failed simulator attempts plus the waits after them."""
    lost_to_simulator_errors: int = 0
    """Episodes that ended in ``simulator_error``."""


def retry_time(turn: TurnRecord) -> float:
    """Seconds a turn lost to failed attempts and the waits that followed them."""
    return sum(
        (a.ended_at - a.started_at) + (a.wait_before_next or 0.0)
        for a in turn.attempts
        if a.outcome != "ok"
    )


class _Side:
    """Running totals of one side (target or simulator)."""

    __slots__ = ("calls", "failed", "retried", "seconds")

    def __init__(self) -> None:
        self.calls = self.retried = 0
        self.failed: dict[str, int] = {}
        self.seconds = 0.0

    def add(self, turn: TurnRecord) -> bool:
        """Count ``turn``; True when it met a retryable failure."""
        self.calls += 1
        self.retried += len(turn.attempts) > 1
        self.seconds += retry_time(turn)
        hit = False
        for a in turn.attempts:
            if a.outcome != "ok":
                self.failed[a.outcome] = self.failed.get(a.outcome, 0) + 1
                hit = hit or a.outcome in _RETRYABLE
        return hit


def recovery_summary(episodes: Sequence[EpisodeRecord]) -> RecoverySummary:
    """Recovery figures over a group of episodes."""
    target, simulator = _Side(), _Side()
    met = recovered = 0
    for ep in episodes:
        hit = False
        for turn in ep.turns:
            if not turn.attempts:
                continue
            if turn.role is Role.USER:
                simulator.add(turn)
            else:
                hit = target.add(turn) or hit
        met += hit
        recovered += hit and not ep.termination.is_error
    return RecoverySummary(
        calls=target.calls,
        retried_calls=target.retried,
        simulator_retried_calls=simulator.retried,
        failed_attempts=dict(sorted(target.failed.items())),
        episodes_with_failures=met,
        recovered_episodes=recovered,
        lost_to_target_errors=sum(
            ep.termination is TerminationReason.TARGET_ERROR for ep in episodes
        ),
        retry_seconds=target.seconds,
        retry_seconds_per_retried_call=target.seconds / target.retried if target.retried else None,
        simulator_calls=simulator.calls,
        simulator_failed_attempts=dict(sorted(simulator.failed.items())),
        simulator_retry_seconds=simulator.seconds,
        lost_to_simulator_errors=sum(
            ep.termination is TerminationReason.SIMULATOR_ERROR for ep in episodes
        ),
    )
