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
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from chatsim.metrics._grouping import Codes, first_seen
from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, IntervalMethod
from chatsim.metrics._stats import interval as make_interval
from chatsim.recording._records import EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = [
    "GroupSummary",
    "IntervalSpec",
    "group_facts",
    "group_summary",
    "is_scored",
    "per_question_correct",
    "question_rates",
    "scored_mask",
]


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


def scored_mask(frame: Frame, errors_as_incorrect: bool = False) -> npt.NDArray[np.bool_]:
    """Per row of ``frame``: whether the episode counts in accuracy."""
    errored = frame.values("is_error")
    return np.ones_like(errored) if errors_as_incorrect else ~errored


def question_rates(
    codes: Codes, correct: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per question, in first-seen order: (question code, episodes, correct ones); the codes
    are dictionary codes (small non-negative integers), so this counts rather than sorts."""
    size = int(codes.max()) + 1 if codes.size else 0
    n = np.bincount(codes, minlength=size)
    k = np.bincount(codes[correct], minlength=size)
    found = first_seen(codes, size)[0]
    return found, n[found], k[found]


def group_facts(frame: Frame, spec: IntervalSpec) -> GroupSummary:
    """Summarise one group of episodes, from its facts."""
    scored = scored_mask(frame, spec.errors_as_incorrect)
    qcodes, _ = frame.codes("question_id")
    _, n, k = question_rates(qcodes[scored], frame.values("correct")[scored])
    rates = (k / n).astype(np.float64)
    errored = frame.values("is_error")
    term, labels = frame.codes("termination")
    counts = np.bincount(term[errored], minlength=len(labels))
    errors = {labels[c]: int(counts[c]) for c in np.flatnonzero(counts)}
    turns = frame.values("user_messages")[scored]
    ci = make_interval(
        rates, spec.method, confidence=spec.confidence, resamples=spec.resamples, seed=spec.seed
    )
    n_scored, n_correct = int(n.sum()), int(k.sum())
    return GroupSummary(
        episodes=len(frame),
        scored=n_scored,
        questions=int(rates.size),
        correct=n_correct,
        accuracy=float(rates.mean()) if len(rates) else None,
        episode_accuracy=n_correct / n_scored if n_scored else None,
        ci=ci,
        invalid=int(frame.equals("termination", "invalid_answer").sum()),
        forced=int(frame.equals("termination", "forced_answer").sum()),
        errors=dict(sorted(errors.items())),
        mean_turns=float(np.mean(turns)) if turns.size else None,
    )


def group_summary(episodes: Sequence[EpisodeRecord], spec: IntervalSpec) -> GroupSummary:
    """Summarise one group of episodes (``group_facts`` of their facts)."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return group_facts(frame_of(episodes), spec)
