"""Per-question results (what gets compared with human data) and consistency across repeats.

- pass^k (tau-bench's estimator): for a question with n scored conversations of which c are
  correct, the chance that k conversations drawn without replacement are *all* correct,
  C(c, k) / C(n, k), averaged over questions, for k up to the fewest conversations any question
  has. pass^1 is accuracy; pass^n with n equal repeats is "all n repeats correct".
- Majority vote: per question, the most frequent valid final answer. A tie between the gold
  letter and others earns 1/(number of tied letters); a question with no valid answer scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from chatsim.recording._records import EpisodeRecord

__all__ = [
    "ConsistencySummary",
    "QuestionRow",
    "consistency",
    "consistency_of",
    "pass_hat_k",
    "question_table",
]


class QuestionRow(BaseModel):
    """One (model, question) line of the per-question table."""

    model_config = ConfigDict(frozen=True)

    model: str
    question_id: str
    subject: str
    gold: str
    episodes: int
    """Episodes recorded for this question and model."""
    scored: int
    """Of which the user answered (validly or not)."""
    correct: int
    accuracy: float | None
    """correct / scored; None when no episode was scored."""
    invalid: int
    errors: int
    answers: dict[str, int]
    """Valid final answers given -> how often."""
    majority: str | None
    """The most frequent valid answer (ties: first letter alphabetically), None when none."""


def question_table(
    episodes: Sequence[EpisodeRecord], *, errors_as_incorrect: bool = False
) -> list[QuestionRow]:
    """One row per (model, question), in first-seen order. Episodes that ended in an error
    are left out of ``scored``, or scored as wrong with ``errors_as_incorrect`` (as the
    headline accuracy is). See ``_question_facts`` for how."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us
    from chatsim.metrics._question_facts import question_facts

    return question_facts(frame_of(episodes), errors_as_incorrect=errors_as_incorrect).rows


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k) / C(n, k): the chance that k of n conversations (c correct) are all correct."""
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} conversations available")
    return comb(c, k) / comb(n, k)


class ConsistencySummary(BaseModel):
    """Consistency of one model across repeats."""

    model_config = ConfigDict(frozen=True)

    questions: int
    """Questions with at least one scored conversation."""
    min_repeats: int
    """Fewest scored conversations of any of those questions."""
    pass_k: dict[int, float]
    """k -> pass^k for k = 1 .. ``min_repeats``, so that every question counts in every k."""
    majority_accuracy: float | None
    """Accuracy of the per-question majority-vote answer; None without questions."""


def _majority_credit(row: QuestionRow) -> float:
    if not row.answers:
        return 0.0
    top = max(row.answers.values())
    tied = [a for a, n in row.answers.items() if n == top]
    return (row.gold in tied) / len(tied)


def consistency(rows: Sequence[QuestionRow]) -> ConsistencySummary:
    """pass^k and majority vote over one model's question rows."""
    return consistency_of(
        np.array([r.scored for r in rows], dtype=np.int64),
        np.array([r.correct for r in rows], dtype=np.int64),
        np.array([_majority_credit(r) for r in rows], dtype=np.float64),
    )


def consistency_of(
    scored: npt.NDArray[np.int64], correct: npt.NDArray[np.int64], credit: npt.NDArray[np.float64]
) -> ConsistencySummary:
    """``consistency`` of rows given as arrays (scored, correct, majority credit per row)."""
    keep = scored > 0
    scored, correct, credit = scored[keep], correct[keep], credit[keep]
    if not scored.size:
        return ConsistencySummary(questions=0, min_repeats=0, pass_k={}, majority_accuracy=None)
    pairs, inverse = np.unique(np.stack([scored, correct]), axis=1, return_inverse=True)
    min_repeats = int(scored.min())
    pass_k = {}
    for k in range(1, min_repeats + 1):
        # C(c, k) / C(n, k) once per distinct (n, c), then added row by row in order.
        exact = np.array([pass_hat_k(n, c, k) for n, c in pairs.T.tolist()], dtype=np.float64)
        pass_k[k] = running_sum(exact[inverse.ravel()]) / int(scored.size)
    return ConsistencySummary(
        questions=int(scored.size),
        min_repeats=min_repeats,
        pass_k=pass_k,
        majority_accuracy=running_sum(credit) / int(scored.size),
    )


def running_sum(values: npt.NDArray[np.float64]) -> float:
    """``sum(values)`` as Python adds floats (left to right, so bit for bit), in C."""
    return float(np.cumsum(values)[-1]) if values.size else 0.0
