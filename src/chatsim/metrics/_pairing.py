"""Pairing episodes of two facts tables on a key, such as (question, subject, repeat), in
pyarrow: a hash join in C++ rather than a Python dict per episode.

Both sides keep one row per key, the last in table order, as a dict built over the records
would (a later record of a key overwrites an earlier one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chatsim.metrics._frame import Frame

__all__ = ["keyed", "paired", "question_means"]

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
