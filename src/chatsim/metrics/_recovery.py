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
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chatsim.recording._records import EpisodeRecord, TurnRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = ["RETRYABLE", "RecoverySummary", "recovery_facts", "recovery_summary", "retry_time"]

#: Failed-attempt outcomes that make an episode one "with failures" (it may recover).
RETRYABLE = frozenset({"rate_limit", "transient", "timeout", "connect_timeout"})


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


def _seconds(frame: Frame, side: str) -> float:
    """Total retry seconds of one side, added turn by turn in record order (as a running
    total would: a sum that pairs terms differently could differ in the last bit)."""
    times = frame.flat(f"{side}_retry_times")
    return float(np.cumsum(times)[-1]) if times.size else 0.0


def recovery_facts(frame: Frame) -> RecoverySummary:
    """Recovery figures over a group of episodes, from their facts."""
    met = frame.values("target_met_retryable")
    retried = int(frame.values("target_retried_calls").sum())
    seconds = _seconds(frame, "target")
    return RecoverySummary(
        calls=int(frame.values("target_calls").sum()),
        retried_calls=retried,
        simulator_retried_calls=int(frame.values("simulator_retried_calls").sum()),
        failed_attempts=frame.flat_counts("target_failed"),
        episodes_with_failures=int(met.sum()),
        recovered_episodes=int((met & ~frame.values("is_error")).sum()),
        lost_to_target_errors=int(frame.equals("termination", "target_error").sum()),
        retry_seconds=seconds,
        retry_seconds_per_retried_call=seconds / retried if retried else None,
        simulator_calls=int(frame.values("simulator_calls").sum()),
        simulator_failed_attempts=frame.flat_counts("simulator_failed"),
        simulator_retry_seconds=_seconds(frame, "simulator"),
        lost_to_simulator_errors=int(frame.equals("termination", "simulator_error").sum()),
    )


def recovery_summary(episodes: Sequence[EpisodeRecord]) -> RecoverySummary:
    """Recovery figures over a group of episodes (``recovery_facts`` of their facts)."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return recovery_facts(frame_of(episodes))
