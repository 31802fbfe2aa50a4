"""Recovery: what retries did for a run (issue 3's figures). Zeros when nothing failed.

- retried calls: assistant turns (target calls) that took more than one attempt; simulator
  calls that were retried (a served or prompted simulator) are counted on their own;
- recovered episodes: episodes that met at least one rate-limit, transient or timeout failure
  and still reached an answer;
- episodes lost to target errors: ``target_error`` terminations (a refused credential stops
  the run without writing a record);
- latency added by retries: time spent in failed attempts plus the waits after them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from chatsim.protocol._types import Role, TerminationReason
from chatsim.recording._records import EpisodeRecord, TurnRecord

__all__ = ["RecoverySummary", "recovery_summary", "retry_time"]

_RETRYABLE = frozenset({"rate_limit", "transient", "timeout"})


class RecoverySummary(BaseModel):
    """Retry and recovery figures over a group of episodes."""

    model_config = ConfigDict(frozen=True)

    calls: int
    """Target calls (assistant turns) with recorded attempts."""
    retried_calls: int
    """Target calls that took more than one attempt."""
    simulator_retried_calls: int
    """Simulator calls that took more than one attempt."""
    failed_attempts: dict[str, int]
    """Failed attempts by outcome (``rate_limit``, ``transient``, ``timeout``, ...)."""
    episodes_with_failures: int
    """Episodes that met at least one retryable failure."""
    recovered_episodes: int
    """Of those, episodes that still reached an answer."""
    lost_to_target_errors: int
    """Episodes that ended in ``target_error``."""
    retry_seconds: float
    """Total time in failed attempts plus the waits after them."""
    retry_seconds_per_retried_call: float | None
    """``retry_seconds / retried_calls``; None when nothing was retried."""


def retry_time(turn: TurnRecord) -> float:
    """Seconds a turn lost to failed attempts and the waits that followed them."""
    return sum(
        (a.ended_at - a.started_at) + (a.wait_before_next or 0.0)
        for a in turn.attempts
        if a.outcome != "ok"
    )


def recovery_summary(episodes: Sequence[EpisodeRecord]) -> RecoverySummary:
    """Recovery figures over a group of episodes."""
    calls = retried = sim_retried = met = recovered = 0
    failed: dict[str, int] = {}
    seconds = 0.0
    for ep in episodes:
        hit = False
        for turn in ep.turns:
            if not turn.attempts:
                continue
            if turn.role is Role.USER:
                sim_retried += len(turn.attempts) > 1
            else:
                calls += 1
                retried += len(turn.attempts) > 1
            seconds += retry_time(turn)
            for a in turn.attempts:
                if a.outcome != "ok":
                    failed[a.outcome] = failed.get(a.outcome, 0) + 1
                    hit = hit or a.outcome in _RETRYABLE
        met += hit
        recovered += hit and not ep.termination.is_error
    return RecoverySummary(
        calls=calls,
        retried_calls=retried,
        simulator_retried_calls=sim_retried,
        failed_attempts=dict(sorted(failed.items())),
        episodes_with_failures=met,
        recovered_episodes=recovered,
        lost_to_target_errors=sum(
            ep.termination is TerminationReason.TARGET_ERROR for ep in episodes
        ),
        retry_seconds=seconds,
        retry_seconds_per_retried_call=seconds / retried if retried else None,
    )
