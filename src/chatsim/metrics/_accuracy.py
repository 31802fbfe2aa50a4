"""User–AI accuracy of one group of episodes (a model, a subject, a cell, or everything).

Definitions (what the numbers mean):

- An episode is *scored* when the user reached an answer, valid or not (``answered``,
  ``forced_answer``, ``invalid_answer``). Invalid answers count as incorrect (ChatBench).
  Episodes that ended in an error (target, auth, simulator, timeout) say nothing about how
  well user and assistant did together, so they are left out of accuracy by default and shown
  as error counts instead; ``errors_as_incorrect=True`` scores them as incorrect.
- ``accuracy`` is the mean over questions of per-question accuracy (ChatBench's unit), so a
  question is not weighted by how many of its episodes survived. With equal repeats it equals
  ``episode_accuracy`` (correct / scored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, IntervalMethod
from chatsim.metrics._stats import interval as make_interval
from chatsim.protocol._types import TerminationReason
from chatsim.recording._records import EpisodeRecord

__all__ = ["GroupSummary", "IntervalSpec", "group_summary", "is_scored", "per_question_correct"]


@dataclass(frozen=True, slots=True)
class IntervalSpec:
    """How intervals are computed for a summary."""

    method: IntervalMethod = "cluster_bootstrap"
    confidence: float = 0.95
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    errors_as_incorrect: bool = False


class GroupSummary(BaseModel):
    """Accuracy and outcome counts of one group of episodes."""

    model_config = ConfigDict(frozen=True)

    episodes: int
    """Episodes recorded."""
    scored: int
    """Episodes counted in accuracy (the user answered, validly or not)."""
    questions: int
    """Distinct questions among the scored episodes (the unit of the interval)."""
    correct: int
    """Scored episodes answered correctly."""
    accuracy: float | None
    """Mean over questions of per-question accuracy; None when nothing was scored."""
    episode_accuracy: float | None
    """correct / scored; None when nothing was scored."""
    ci: Interval
    """Interval of ``accuracy`` over questions."""
    invalid: int
    """Episodes whose final answer could not be parsed (counted as incorrect)."""
    forced: int
    """Episodes that reached the turn limit and were asked for their answer."""
    errors: dict[str, int]
    """Error terminations by reason (``target_error``, ``timeout``, ...)."""
    mean_turns: float | None
    """Mean user messages per scored episode."""


def is_scored(episode: EpisodeRecord, errors_as_incorrect: bool = False) -> bool:
    """Whether the episode counts in accuracy."""
    return errors_as_incorrect or not episode.termination.is_error


def per_question_correct(
    episodes: Iterable[EpisodeRecord], errors_as_incorrect: bool = False
) -> dict[str, tuple[int, int]]:
    """question_id -> (scored episodes, correct ones), in first-seen order."""
    table: dict[str, tuple[int, int]] = {}
    for ep in episodes:
        if not is_scored(ep, errors_as_incorrect):
            continue
        n, k = table.get(ep.question_id, (0, 0))
        table[ep.question_id] = (n + 1, k + int(ep.correct))
    return table


def group_summary(episodes: Sequence[EpisodeRecord], spec: IntervalSpec) -> GroupSummary:
    """Summarise one group of episodes."""
    per_q = per_question_correct(episodes, spec.errors_as_incorrect)
    rates = np.array([k / n for n, k in per_q.values()], dtype=np.float64)
    scored = sum(n for n, _ in per_q.values())
    correct = sum(k for _, k in per_q.values())
    errors: dict[str, int] = {}
    for ep in episodes:
        if ep.termination.is_error:
            errors[ep.termination.value] = errors.get(ep.termination.value, 0) + 1
    turns = [ep.user_messages for ep in episodes if is_scored(ep, spec.errors_as_incorrect)]
    ci = make_interval(
        rates, spec.method, confidence=spec.confidence, resamples=spec.resamples, seed=spec.seed
    )
    return GroupSummary(
        episodes=len(episodes),
        scored=scored,
        questions=len(per_q),
        correct=correct,
        accuracy=float(rates.mean()) if len(rates) else None,
        episode_accuracy=correct / scored if scored else None,
        ci=ci,
        invalid=sum(ep.termination is TerminationReason.INVALID_ANSWER for ep in episodes),
        forced=sum(ep.termination is TerminationReason.FORCED_ANSWER for ep in episodes),
        errors=dict(sorted(errors.items())),
        mean_turns=float(np.mean(turns)) if turns else None,
    )
