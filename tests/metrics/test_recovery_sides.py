"""The recovery table charges the target only with its own failures; the simulator's are
counted on their own (issue 15)."""

from __future__ import annotations

from records_kit import assistant, attempt, episode, user

from chatsim.metrics._recovery import recovery_summary
from chatsim.protocol._types import TerminationReason as TR


def test_simulator_failures_are_not_the_targets() -> None:
    sim_attempts = [attempt(0, 0, 1, "rate_limit", wait_before_next=0.5), attempt(1, 1.5, 2)]
    sim_retried = user(0, "hi", 0, 2).model_copy(update={"attempts": sim_attempts})
    target_ok = assistant(1, "B", 2, 3, attempts=[attempt(0, 2, 3)])
    target_retried = assistant(1, "B", 2, 4, attempts=[
        attempt(0, 2, 2.5, "connect_timeout", wait_before_next=0.5), attempt(1, 3, 4),
    ])  # fmt: skip
    eps = [
        episode("m", "q1", turns=[sim_retried, target_ok]),
        episode("m", "q2", turns=[user(0, "hi", 0, 1), target_retried]),
        episode("m", "q3", termination=TR.SIMULATOR_ERROR, turns=[]),
    ]
    r = recovery_summary(eps)  # type: ignore[arg-type]
    assert r.failed_attempts == {"connect_timeout": 1}
    assert (r.calls, r.retried_calls, r.episodes_with_failures, r.recovered_episodes) == (
        2, 1, 1, 1,
    )  # fmt: skip
    assert r.retry_seconds == 1.0
    assert r.simulator_failed_attempts == {"rate_limit": 1}
    assert (r.simulator_calls, r.simulator_retried_calls) == (1, 1)
    assert r.simulator_retry_seconds == 1.5
    assert (r.lost_to_target_errors, r.lost_to_simulator_errors) == (0, 1)
