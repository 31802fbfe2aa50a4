"""Pairing episodes of two facts tables on a key, such as (question, subject, repeat), in
pyarrow: a hash join in C++ rather than a Python dict per episode.

Both sides keep one row per key, the last in table order, as a dict built over the records
would (a later record of a key overwrites an earlier one). Two sides of one table (the models
of one run) are paired on integer keys from the frame's codes instead, in numpy: the same
pairs, without decoding a string key per episode (1.5 s of a million-episode report).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chatsim.metrics._frame import Frame, Index
from chatsim.metrics._grouping import Codes

__all__ = ["keyed", "paired", "paired_question_means", "question_means"]

_ROW = "_row"


def keyed(
    frame: Frame, keys: Sequence[str], values: Sequence[str], mask: npt.NDArray[np.bool_]
) -> pa.Table:
    """The rows of ``frame`` where ``mask``, one per key (its last), with ``keys`` (strings
    decoded, so that tables of different runs join) and ``values``."""
    rows = frame.rows[mask]
    source = frame.table.select([*keys, *values]).take(pa.array(rows))
    columns = {}
    for name in [*keys, *values]:
        col = source[name]
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        columns[name] = col
    table = pa.table(columns).append_column(_ROW, pa.array(np.arange(rows.size), pa.int64()))
    last = table.group_by(list(keys), use_threads=False).aggregate([(_ROW, "max")])
    if last.num_rows == table.num_rows:
        return table.drop_columns([_ROW])
    return table.take(last[f"{_ROW}_max"]).drop_columns([_ROW])


def paired(a: pa.Table, b: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The keys both tables hold; their other columns suffixed ``_a`` and ``_b``."""
    rename_a = {c: c if c in keys else f"{c}_a" for c in a.column_names}
    rename_b = {c: c if c in keys else f"{c}_b" for c in b.column_names}
    return a.rename_columns(rename_a).join(
        b.rename_columns(rename_b), list(keys), join_type="inner", use_threads=False
    )


def question_means(table: pa.Table, column: str) -> dict[str, float]:
    """question id -> mean of a boolean column over the table's rows of that question."""
    if table.num_rows == 0:
        return {}
    ints = pc.cast(table[column], pa.int64())
    counts = (
        pa.table({"question_id": table["question_id"], "k": ints})
        .group_by("question_id", use_threads=False)
        .aggregate([("k", "sum"), ("k", "count")])
    )
    return {
        q: k / n
        for q, k, n in zip(
            counts["question_id"].to_pylist(),
            counts["k_sum"].to_pylist(),
            counts["k_count"].to_pylist(),
            strict=True,
        )
    }


_QUESTION, _SUBJECT, _REPEAT = "question_id", "subject", "repeat"


def paired_question_means(
    a: Frame, mask_a: npt.NDArray[np.bool_], b: Frame, mask_b: npt.NDArray[np.bool_]
) -> tuple[dict[str, float], dict[str, float], int, int, int]:
    """Episodes of ``a`` and ``b`` (where their masks hold) paired on (question, subject,
    repeat): per question, each side's mean ``correct`` over the pairs; and the keyed rows
    of each side and the pairs."""
    keys = (_QUESTION, _SUBJECT, _REPEAT)
    if a.table is not b.table:
        sa = keyed(a, keys, ["correct"], mask_a)
        sb = keyed(b, keys, ["correct"], mask_b)
        shared = paired(sa, sb, keys)
        means = question_means(shared, "correct_a"), question_means(shared, "correct_b")
        return *means, sa.num_rows, sb.num_rows, shared.num_rows
    part_a, part_b = a.subset(a.rows[mask_a]), b.subset(b.rows[mask_b])
    repeats = [p.values(_REPEAT).astype(np.int64) for p in (part_a, part_b)]
    low = min((int(r.min()) for r in repeats if r.size), default=0)
    span = max((int(r.max()) for r in repeats if r.size), default=0) - low + 1
    last_a = _last_per_key(part_a, repeats[0] - low, span)
    last_b = _last_per_key(part_b, repeats[1] - low, span)
    # A null key part never pairs (as in the join), though its rows count on their side.
    both = [(distinct[ok], rows[ok]) for distinct, rows, ok in (last_a, last_b)]
    _, ia, ib = np.intersect1d(both[0][0], both[1][0], assume_unique=True, return_indices=True)
    pairs_a, pairs_b = part_a.subset(both[0][1][ia]), part_b.subset(both[1][1][ib])
    question, labels = pairs_a.codes(_QUESTION)  # the same on both sides: part of the key
    means_a = _means(question, pairs_a.values("correct"), labels)
    means_b = _means(question, pairs_b.values("correct"), labels)
    return means_a, means_b, last_a[0].size, last_b[0].size, int(ia.size)


def _last_per_key(
    part: Frame, repeat: Index, span: int
) -> tuple[Index, Index, npt.NDArray[np.bool_]]:
    """(sorted distinct keys, the table row of each key's last episode, whether the key has
    no null part) of a frame's rows; a key from the question and subject codes (one
    table's, null: -1) and the repeat (``span`` values from 0)."""
    question, _ = part.codes(_QUESTION)
    subject, subjects = part.codes(_SUBJECT)
    key = ((question.astype(np.int64) + 1) * (len(subjects) + 1) + subject + 1) * span + repeat
    distinct, first_from_end = np.unique(key[::-1], return_index=True)
    last = part.rows.size - 1 - first_from_end
    return distinct, part.rows[last], (question[last] >= 0) & (subject[last] >= 0)


def _means(question: Codes, correct: npt.NDArray[np.bool_], labels: list[Any]) -> dict[str, float]:
    """question label -> mean of ``correct`` over the pairs of that question."""
    n = np.bincount(question, minlength=len(labels))
    k = np.bincount(question, weights=correct, minlength=len(labels))
    return {labels[q]: int(k[q]) / int(n[q]) for q in np.flatnonzero(n)}
