"""ChatBench's study conditions, reported apart: accuracy per condition and, for
``answer-first``, the answer alone against the answer after the conversation.

Definitions:

- A condition's accuracy is ``group_summary`` over its episodes (the same rules as
  everywhere: errors left out unless scored as incorrect). In ``user-alone`` it is the user's
  accuracy alone; in ``direct-to-AI`` and ``answer-first`` it is user–AI accuracy (the answer
  after the conversation).
- ``answer-first`` pairs each episode's two answers. An episode is *paired* when the user
  answered alone (``initial_correct`` set) and the episode is scored; initial and final
  accuracy are both taken over the paired episodes (means over questions, as accuracy is),
  so that their difference is the switches' doing: on episodes, final − initial =
  (wrong→right − right→wrong) / paired.
- ``right_to_wrong_rate``: of the paired episodes answered right alone, the share answered
  wrong after the conversation; ``wrong_to_right_rate``: of those answered wrong alone
  (invalid counts as wrong), the share answered right after it.

Records before schema 4 carry no condition and read as ``direct-to-AI``. A summary lists
conditions only when the episodes hold more than one, or one other than ``direct-to-AI``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from chatsim.config import CONDITIONS
from chatsim.metrics._accuracy import (
    GroupSummary,
    IntervalSpec,
    group_facts,
    question_rates,
    scored_mask,
)
from chatsim.metrics._grouping import Codes
from chatsim.metrics._stats import Interval
from chatsim.metrics._stats import interval as make_interval
from chatsim.recording._records import EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = [
    "AnswerFirstSummary",
    "ConditionModelSummary",
    "ConditionSummary",
    "answer_first_facts",
    "answer_first_summary",
    "condition_facts",
    "condition_notes",
    "condition_summaries",
]


class AnswerFirstSummary(BaseModel):
    """``answer-first``: the answer alone against the answer after the conversation."""

    model_config = ConfigDict(frozen=True)

    paired: int
    """Scored episodes in which the user also answered alone (the unit of everything below)."""
    questions: int
    """Distinct questions among the paired episodes."""
    initial_accuracy: float | None
    """Accuracy of the answers alone (mean over questions); None when nothing is paired."""
    initial_ci: Interval
    """Interval of ``initial_accuracy`` over questions."""
    final_accuracy: float | None
    """Accuracy after the conversation, over the same episodes."""
    final_ci: Interval
    """Interval of ``final_accuracy`` over questions."""
    stayed_right: int
    """Right alone, right after."""
    right_to_wrong: int
    """Right alone, wrong after: talked out of a right answer."""
    wrong_to_right: int
    """Wrong alone (or invalid), right after: helped."""
    stayed_wrong: int
    """Wrong alone, wrong after."""
    right_to_wrong_rate: float | None
    """right_to_wrong / (answered right alone); None when none was."""
    wrong_to_right_rate: float | None
    """wrong_to_right / (answered wrong alone); None when none was."""


class ConditionModelSummary(GroupSummary):
    """One model's figures under one condition."""

    answer_first: AnswerFirstSummary | None
    """Set for ``answer-first``."""


class ConditionSummary(GroupSummary):
    """One condition's figures, all models pooled, and per model."""

    condition: str
    answer_first: AnswerFirstSummary | None
    """Set for ``answer-first``."""
    models: dict[str, ConditionModelSummary]
    """Per model (its label), in run order."""


def _accuracy(
    questions: Codes, correct: npt.NDArray[np.bool_], spec: IntervalSpec
) -> tuple[float | None, Interval]:
    """Mean over questions of per-question accuracy, and its interval."""
    _, n, k = question_rates(questions, correct)
    rates = (k / n).astype(np.float64)
    ci = make_interval(
        rates, spec.method, confidence=spec.confidence, resamples=spec.resamples, seed=spec.seed
    )
    return (float(rates.mean()) if len(rates) else None), ci


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def answer_first_facts(frame: Frame, spec: IntervalSpec) -> AnswerFirstSummary:
    """Initial vs final accuracy and the switches of ``answer-first`` episodes (module doc)."""
    paired = frame.valid("initial_correct") & scored_mask(frame, spec.errors_as_incorrect)
    before = frame.values("initial_correct")[paired]
    after = frame.values("correct")[paired]
    questions = frame.codes("question_id")[0][paired]
    initial, initial_ci = _accuracy(questions, before, spec)
    final, final_ci = _accuracy(questions, after, spec)
    right_first = int(before.sum())
    r2w = int((before & ~after).sum())
    w2r = int((after & ~before).sum())
    n = int(paired.sum())
    return AnswerFirstSummary(
        paired=n,
        questions=int(np.unique(questions).size),
        initial_accuracy=initial,
        initial_ci=initial_ci,
        final_accuracy=final,
        final_ci=final_ci,
        stayed_right=right_first - r2w,
        right_to_wrong=r2w,
        wrong_to_right=w2r,
        stayed_wrong=n - right_first - w2r,
        right_to_wrong_rate=_rate(r2w, right_first),
        wrong_to_right_rate=_rate(w2r, n - right_first),
    )


def answer_first_summary(
    episodes: Sequence[EpisodeRecord], spec: IntervalSpec
) -> AnswerFirstSummary:
    """``answer_first_facts`` of the episodes' facts."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return answer_first_facts(frame_of(episodes), spec)


def condition_facts(
    frame: Frame, models: Sequence[str], spec: IntervalSpec
) -> dict[str, ConditionSummary]:
    """Per condition, when the episodes hold more than one or one other than direct-to-AI;
    else empty (the rest of the summary already is the one condition's)."""
    found = set(frame.strings("condition"))
    conditions = [c for c in CONDITIONS if c in found]  # the fixed order, not the records'
    if conditions in ([], ["direct-to-AI"]):
        return {}
    out: dict[str, ConditionSummary] = {}
    for condition in conditions:
        mine = frame.where(frame.equals("condition", condition))
        first = condition == "answer-first"
        per_model: dict[str, ConditionModelSummary] = {}
        for model in models:
            eps = mine.where(mine.equals("model", model))
            if len(eps):
                per_model[model] = ConditionModelSummary(
                    answer_first=answer_first_facts(eps, spec) if first else None,
                    **group_facts(eps, spec).model_dump(),
                )
        out[condition] = ConditionSummary(
            condition=condition,
            answer_first=answer_first_facts(mine, spec) if first else None,
            models=per_model,
            **group_facts(mine, spec).model_dump(),
        )
    return out


def condition_summaries(
    episodes: Sequence[EpisodeRecord], models: Sequence[str], spec: IntervalSpec
) -> dict[str, ConditionSummary]:
    """``condition_facts`` of the episodes' facts."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return condition_facts(frame_of(episodes), models, spec)


def condition_notes(conditions: dict[str, ConditionSummary]) -> list[str]:
    """Caveats: pooled figures mix conditions; what user-alone and answer-first measure."""
    notes = []
    if len(conditions) > 1:
        notes.append(
            "episodes of several study conditions ("
            + ", ".join(conditions)
            + "): per-model and per-subject figures pool them; read the by-condition table."
        )
    if "user-alone" in conditions:
        notes.append("user-alone: the simulated user answered without an assistant.")
    if "answer-first" in conditions:
        notes.append(
            "answer-first: the user answered alone, then with the assistant; the answer alone "
            "was not shown to the simulator during the conversation."
        )
    return notes
