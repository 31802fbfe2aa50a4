"""Per-question results (what gets compared with human data) and consistency across repeats.

- pass^k (tau-bench's estimator): for a question with n scored conversations of which c are
  correct, the chance that k conversations drawn without replacement are *all* correct,
  C(c, k) / C(n, k), averaged over questions, for k up to the fewest conversations any question
  has. pass^1 is accuracy; pass^n with n equal repeats is "all n repeats correct".
- Majority vote: per question, the most frequent valid final answer. A tie between the gold
  letter and others earns 1/(number of tied letters); a question with no valid answer scores 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb

from pydantic import BaseModel, ConfigDict

from chatsim.recording._records import EpisodeRecord

__all__ = ["ConsistencySummary", "QuestionRow", "consistency", "pass_hat_k", "question_table"]


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
    headline accuracy is)."""
    groups: dict[tuple[str, str], list[EpisodeRecord]] = {}
    for ep in episodes:
        groups.setdefault((ep.model, ep.question_id), []).append(ep)
    rows = []
    for (model, qid), eps in groups.items():
        scored = [ep for ep in eps if errors_as_incorrect or not ep.termination.is_error]
        answers = Counter(ep.final_answer for ep in scored if ep.final_answer is not None)
        top = max(answers.values(), default=0)
        correct = sum(ep.correct for ep in scored)
        rows.append(
            QuestionRow(
                model=model,
                question_id=qid,
                subject=eps[0].subject,
                gold=eps[0].gold,
                episodes=len(eps),
                scored=len(scored),
                correct=correct,
                accuracy=correct / len(scored) if scored else None,
                invalid=sum(ep.final_answer is None for ep in scored),
                errors=len(eps) - len(scored),
                answers=dict(sorted(answers.items())),
                majority=min((a for a, n in answers.items() if n == top), default=None),
            )
        )
    return rows


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
    rows = [r for r in rows if r.scored]
    if not rows:
        return ConsistencySummary(questions=0, min_repeats=0, pass_k={}, majority_accuracy=None)
    min_repeats = min(r.scored for r in rows)
    pass_k = {
        k: sum(pass_hat_k(r.scored, r.correct, k) for r in rows) / len(rows)
        for k in range(1, min_repeats + 1)
    }
    return ConsistencySummary(
        questions=len(rows),
        min_repeats=min_repeats,
        pass_k=pass_k,
        majority_accuracy=sum(_majority_credit(r) for r in rows) / len(rows),
    )
