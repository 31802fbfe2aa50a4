"""``Frame``: rows of a facts table (``_facts.FACTS_SCHEMA``) as numpy columns, for the
group-level metrics.

A frame is a table plus the rows it covers (a model, a subject, a condition, ...). The
columns read by nearly every figure are converted once per table, in a cache the subsets
share (``_Columns`` says which), and a subset is an index array, so grouping 1M episodes by
model and subject copies indices, not rows. String columns are
read as dictionary codes (``codes``), so that grouping and counting stay in numpy; list
columns (one value per target call or per turn) are flattened for the rows wanted, in row
then list order: the order the record walks used, so means and sums are bit-for-bit theirs.

This module (like ``_facts`` and ``_pairing``) imports pyarrow, so the metrics modules import
it only when called: ``import chatsim.metrics`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from chatsim.metrics._facts import facts_table
from chatsim.metrics._grouping import Codes, first_seen
from chatsim.recording._records import EpisodeRecord

__all__ = ["Frame", "Index", "frame_of"]

Index = npt.NDArray[np.int64]
Indices = npt.NDArray[np.signedinteger[Any]]
"""Element indices into a list column's values: int32 below 2**31 values."""
_CALLS = "call_"  # the list columns of one value per target call each
_FEW = 32


class _Columns:
    """One table's columns, converted on first use.

    What is kept: codes (4 bytes a row) and booleans (1), read by nearly every figure, and
    the offsets of the ``call_*`` family. Numeric columns are converted for each use, a few
    ms at 1M rows, rather than holding 4-8 bytes a row of copies of the table each (~150 MB
    at 1M episodes)."""

    __slots__ = ("_codes", "_offsets", "_scalars", "_valid", "table")

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._scalars: dict[str, npt.NDArray[Any]] = {}
        self._codes: dict[str, tuple[Codes, list[Any]]] = {}
        self._offsets: dict[str, Index] = {}
        self._valid: dict[str, npt.NDArray[np.bool_]] = {}

    def scalar(self, name: str) -> npt.NDArray[Any]:
        if name in self._scalars:
            return self._scalars[name]
        col = self.table[name]
        if pa.types.is_boolean(col.type):
            col = pc.fill_null(col, False)  # nullable facts: ``valid`` says which are set
        values: npt.NDArray[Any] = col.to_numpy()
        if values.dtype == np.bool_:
            self._scalars[name] = values
        return values

    def valid(self, name: str) -> npt.NDArray[np.bool_] | None:
        """Where a column is set; None when it has no nulls."""
        col = self.table[name]
        if col.null_count == 0:
            return None
        if name not in self._valid:
            self._valid[name] = pc.is_valid(col).to_numpy()
        return self._valid[name]

    def codes(self, name: str) -> tuple[Codes, list[Any]]:
        if name not in self._codes:
            self._codes[name] = _codes(self.table[name])
        return self._codes[name]

    def list_column(self, name: str, family: str | None) -> tuple[pa.ChunkedArray, Index]:
        """(flat values, offsets) of a list column: the values of its rows in order, as the
        chunks hold them (a slice's own, not copied into one array), and where each row's
        values start. The columns of a ``family`` have the same lengths row by row and are
        read together, so they share one offsets array, kept; a column read alone (None)
        keeps none (8 bytes a row each)."""
        col = self.table[name]
        offsets = self._offsets.get(family) if family is not None else None
        if offsets is None:
            lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy()
            offsets = np.zeros(lengths.size + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            if family is not None:
                self._offsets[family] = offsets
        return pc.list_flatten(col), offsets


def _codes(col: pa.ChunkedArray) -> tuple[Codes, list[Any]]:
    """(code per row, -1 where null; the labels) of a string column, over its chunks (a part
    each, with its own dictionary): each chunk's codes mapped onto one list of labels, in
    the order ``unify_dictionaries`` would give, without a unified copy of the table."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    found: dict[Any, int] = {}
    out = np.empty(len(col), dtype=np.int32)
    start = 0
    for chunk in col.chunks:
        words = chunk.dictionary.to_pylist()
        to_label = np.array([found.setdefault(w, len(found)) for w in words] + [-1], np.int32)
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(words))  # a null: the -1 slot
        where = indices.to_numpy()
        out[start : start + len(chunk)] = to_label[where]
        start += len(chunk)
    return out, list(found)


class Frame:
    """Some rows of a facts table (all of them by default), in table order."""

    __slots__ = ("_cols", "_elements_of", "rows")

    def __init__(self, table: pa.Table, rows: Index | None = None, *, _cols: Any = None) -> None:
        self._cols: _Columns = _cols if _cols is not None else _Columns(table)
        self.rows: Index = np.arange(table.num_rows, dtype=np.int64) if rows is None else rows
        # The call_* columns hold one value per call each, so they share element indices.
        self._elements_of: dict[str, Indices | None] = {}

    @property
    def table(self) -> pa.Table:
        """The whole facts table (all rows, not only this frame's)."""
        return self._cols.table

    def __len__(self) -> int:
        return int(self.rows.size)

    def subset(self, rows: Index) -> Frame:
        """The frame of ``rows`` (indices into the table)."""
        return Frame(self._cols.table, rows, _cols=self._cols)

    def where(self, mask: npt.NDArray[np.bool_]) -> Frame:
        """The rows of this frame where ``mask`` (one entry per row of this frame) holds."""
        return self.subset(self.rows[mask])

    def values(self, name: str) -> npt.NDArray[Any]:
        """A scalar column for these rows (nullable booleans read False where unset)."""
        return self._cols.scalar(name)[self.rows]

    def valid(self, name: str) -> npt.NDArray[np.bool_]:
        """Where a nullable column is set, for these rows."""
        valid = self._cols.valid(name)
        return np.ones(len(self), dtype=np.bool_) if valid is None else valid[self.rows]

    def value(self, name: str, i: int) -> Any:
        """The ``i``-th row's value of a column, as Python."""
        return self._cols.table[name][int(self.rows[i])].as_py()

    def codes(self, name: str) -> tuple[Codes, list[Any]]:
        """(code per row, -1 where null; the labels the codes index) of a string column."""
        codes, labels = self._cols.codes(name)
        return codes[self.rows], labels

    def strings(self, name: str) -> list[Any]:
        """A string column's distinct values among these rows, in first-seen order."""
        codes, labels = self.codes(name)
        return [labels[c] if c >= 0 else None for c in first_seen(codes, len(labels))[0]]

    def equals(self, name: str, value: str) -> npt.NDArray[np.bool_]:
        """Mask: the string column equals ``value`` (never true where null)."""
        codes, labels = self.codes(name)
        wanted = labels.index(value) if value in labels else -2
        return np.asarray(codes == wanted, dtype=np.bool_)

    def groups(self, name: str, *, sort: bool = False) -> dict[Any, Frame]:
        """Sub-frames by a string column's value: first-seen order, or sorted by value."""
        codes, labels = self.codes(name)
        order = first_seen(codes, len(labels))[0]
        keys = [(labels[c] if c >= 0 else None, c) for c in order]
        if sort:
            keys.sort(key=lambda kc: str(kc[0]))
        if len(keys) <= 1:
            return {keys[0][0]: self} if keys else {}
        if len(keys) <= _FEW:  # a pass per group beats sorting the rows
            return {label: self.subset(self.rows[codes == c]) for label, c in keys}
        by = np.argsort(codes, kind="stable")  # rows grouped by code, table order within
        found = np.sort(order)
        bounds = np.searchsorted(codes[by], found)
        ends = np.append(bounds[1:], codes.size)
        where = {int(c): self.rows[by[s:e]] for c, s, e in zip(found, bounds, ends, strict=True)}
        return {label: self.subset(where[int(c)]) for label, c in keys}

    def _elements(self, name: str) -> tuple[pa.ChunkedArray, Indices | None]:
        """The flat values of a list column and the element indices of these rows (None:
        all of them). Those of the ``call_*`` family (one value per call each, read nine
        times a summary) are kept; any other column's are made for the one read."""
        family = _CALLS if name.startswith(_CALLS) else None
        flat, offsets = self._cols.list_column(name, family)
        if family is None:
            return flat, self._element_indices(offsets)
        if family not in self._elements_of:
            self._elements_of[family] = self._element_indices(offsets)
        return flat, self._elements_of[family]

    def _element_indices(self, offsets: Index) -> Indices | None:
        if self.rows.size == offsets.size - 1:
            return None  # every row, in order
        starts, ends = offsets[self.rows], offsets[self.rows + 1]
        lengths = ends - starts
        shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        idx = np.arange(shift.size, dtype=np.int64)
        idx += shift
        return idx.astype(np.int32) if offsets[-1] < 2**31 else idx  # half the memory, as a rule

    def flat(self, name: str) -> npt.NDArray[Any]:
        """A list column's set values for these rows, row by row (nulls dropped)."""
        flat, idx = self._elements(name)
        taken = flat if idx is None else flat.take(pa.array(idx))
        if taken.null_count:
            taken = pc.drop_null(taken)
        values = np.asarray(taken.to_numpy(zero_copy_only=False))
        return values.astype(np.float64) if values.dtype == np.float32 else values

    def flat_with_nulls(self, name: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """A numeric list column's values for these rows (NaN where null) and where set."""
        flat, idx = self._elements(name)
        taken = flat if idx is None else flat.take(pa.array(idx))
        valid = pc.is_valid(taken).to_numpy(zero_copy_only=False)
        values = pc.fill_null(taken, np.nan).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64), np.asarray(valid, dtype=np.bool_)

    def flat_counts(self, name: str) -> dict[str, int]:
        """How often each value occurs in a list-of-strings column over these rows, sorted."""
        flat, idx = self._elements(name)
        taken = flat if idx is None else flat.take(pa.array(idx))
        if len(taken) == 0:
            return {}
        counts = pc.value_counts(taken).to_pylist()
        return dict(sorted((c["values"], int(c["counts"])) for c in counts))


def frame_of(episodes: Iterable[EpisodeRecord], stems: Mapping[str, str] | None = None) -> Frame:
    """The frame of records (the record-based entry points' way in)."""
    return Frame(facts_table(episodes, stems))
