"""The per-question table from a facts frame: one row per (model, question), counted in
numpy per group; Python runs once per row of the table (it builds the row), never per episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from chatsim.metrics._frame import Frame
from chatsim.metrics._grouping import first_seen
from chatsim.metrics._questions import ConsistencySummary, QuestionRow, consistency_of

__all__ = ["QuestionFacts", "question_facts", "question_row"]

# Every field is set in every row: one shared set, where pydantic keeps one per instance (a
# set of 12 names is most of a row's memory: 1.5 kB a row against 0.8 kB).
_EVERY_FIELD = set(QuestionRow.model_fields)
_FIELD_ORDER = tuple(QuestionRow.model_fields)
_new = object.__new__
_set = object.__setattr__


def question_row(**values: Any) -> QuestionRow:
    """A ``QuestionRow`` of values already of its fields' types (counted from arrays), built
    as pydantic's ``model_construct`` builds one but without its Python loop over the fields
    and their defaults: 16 us a row, 1.6 s of a report at 100k rows, against ~4 us."""
    row = _new(QuestionRow)
    # In the fields' order, as validation would leave them: the JSON follows this order.
    _set(row, "__dict__", {name: values[name] for name in _FIELD_ORDER})
    _set(row, "__pydantic_fields_set__", _EVERY_FIELD)
    _set(row, "__pydantic_extra__", None)
    _set(row, "__pydantic_private__", None)
    return row


@dataclass(frozen=True, slots=True)
class QuestionFacts:
    """The per-question table and, per row, what consistency needs, as arrays."""

    rows: list[QuestionRow]
    model: npt.NDArray[np.str_]
    """Each row's model."""
    scored: npt.NDArray[np.int64]
    correct: npt.NDArray[np.int64]
    credit: npt.NDArray[np.float64]
    """Majority-vote credit (``_questions._majority_credit``)."""

    def consistency(self, model: str) -> ConsistencySummary:
        """pass^k and majority vote over one model's rows."""
        mine = np.asarray(self.model) == model
        return consistency_of(self.scored[mine], self.correct[mine], self.credit[mine])


def _majority(
    tally: npt.NDArray[np.int64], letters: list[str], gold: npt.NDArray[np.int64]
) -> tuple[list[str | None], npt.NDArray[np.float64]]:
    """Per row of ``tally`` (answers given, by letter code): the majority letter (ties: the
    first alphabetically) and the gold letter's majority-vote credit (``gold``: its code in
    ``letters``, -1 when nobody answered it)."""
    if not letters:  # nobody gave a valid answer
        return [None] * gold.size, np.zeros(gold.size, dtype=np.float64)
    top = tally.max(axis=1, initial=0)
    tied = (tally == top[:, None]) & (top[:, None] > 0)
    by_letter = np.array(sorted(range(len(letters)), key=lambda c: letters[c]), dtype=np.int64)
    first = by_letter[tied[:, by_letter].argmax(axis=1)]
    majority = [
        letters[c] if t else None for c, t in zip(first.tolist(), top.tolist(), strict=True)
    ]
    hit = np.where(gold >= 0, tied[np.arange(gold.size), np.maximum(gold, 0)], False)
    credit = np.where(top > 0, hit / np.maximum(tied.sum(axis=1), 1), 0.0)
    return majority, credit


def question_facts(frame: Frame, *, errors_as_incorrect: bool = False) -> QuestionFacts:
    """``question_table`` of a frame, with the arrays ``consistency`` needs."""
    model, models = frame.codes("model")
    qid, qids = frame.codes("question_id")
    subject, subjects = frame.codes("subject")
    gold, golds = frame.codes("gold")
    answer, letters = frame.codes("final_answer")
    key = model.astype(np.int64) * len(qids) + qid  # codes are int32: no overflow
    found, first = first_seen(key, len(models) * len(qids))
    where = np.zeros(len(models) * len(qids), dtype=np.int64)
    where[found] = np.arange(found.size)
    group = where[key]  # per row: its (model, question) in first-seen order
    size = found.size
    scored = np.ones(len(frame), np.bool_) if errors_as_incorrect else ~frame.values("is_error")
    episodes = np.bincount(group, minlength=size)
    n_scored = np.bincount(group[scored], minlength=size)
    correct = np.bincount(group[scored & frame.values("correct")], minlength=size)
    invalid = np.bincount(group[scored & (answer < 0)], minlength=size).tolist()
    given = scored & (answer >= 0)
    tally = np.zeros((size, len(letters)), dtype=np.int64)
    np.add.at(tally, (group[given], answer[given]), 1)
    gold_letter = np.array([letters.index(g) if g in letters else -1 for g in golds], np.int64)
    majority, credit = _majority(tally, letters, gold_letter[gold[first]])
    by_letter = sorted(range(len(letters)), key=lambda c: letters[c])
    counts = tally.tolist()
    names = np.array(models, dtype=np.str_)[model[first]] if models else np.array([], np.str_)
    columns = zip(n_scored.tolist(), correct.tolist(), episodes.tolist(), qid[first].tolist(),
                  subject[first].tolist(), gold[first].tolist(), strict=True)  # fmt: skip
    rows, labels = [], names.tolist()
    for g, (n, k, e, q, s, gl) in enumerate(columns):
        rows.append(
            question_row(
                model=labels[g], question_id=qids[q], subject=subjects[s], gold=golds[gl],
                episodes=e, scored=n, correct=k, accuracy=k / n if n else None,
                invalid=invalid[g], errors=e - n,
                answers={letters[c]: counts[g][c] for c in by_letter if counts[g][c]},
                majority=majority[g],
            )
        )  # fmt: skip
    return QuestionFacts(rows, names, n_scored, correct, credit)
