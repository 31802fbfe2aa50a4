"""A columnar read path over ``episodes.jsonl``: the per-episode scalar fields as one
``pyarrow.Table``, without an ``EpisodeRecord`` per line.

Why: ``read_run`` validates every turn and attempt of every record and keeps them all, 34 kB
and 450-640 us per episode (``benchmarks/bench_records.py``; this path: 24-50 us, 1.3 kB),
while accuracy, compare and the paired statistics need a dozen scalars per episode. pyarrow's
JSON reader (C++) parses the lines block by block against an explicit schema and drops every
other field (turns, attempts) without building them.

The reader's rules hold (``_jsonl.py``): the last line is validated in full and left out when
torn; a line pyarrow cannot read sends the whole file through the full reader, which either
raises its own ``RunDirectoryError`` (damage, naming ``chatsim repair``) or, for a line only
pyarrow minds, gives the records this table is then built from. As in ``read_run``, an
episode recorded twice is its latest record, at the position of its first. Damage inside a
turn is not seen here (the turns are not read); the full readers and ``chatsim repair`` see it.
Not yet wired into ``chatsim report`` / ``compare``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import ValidationError

from chatsim.protocol._types import TerminationReason
from chatsim.recording._files import EPISODE_RECORDS
from chatsim.recording._jsonl import JsonLine
from chatsim.recording._records import EpisodeRecord

__all__ = ["EPISODE_COLUMNS", "episode_table"]

EPISODE_COLUMNS = pa.schema(
    [
        ("episode_id", pa.string()),
        ("model", pa.string()),
        ("simulator", pa.string()),
        ("question_id", pa.string()),
        ("subject", pa.string()),
        ("repeat", pa.int64()),
        ("seed", pa.int64()),
        ("gold", pa.string()),
        ("final_answer", pa.string()),
        ("answer_method", pa.string()),
        ("correct", pa.bool_()),
        ("termination", pa.string()),
        ("user_messages", pa.int64()),
        ("started_at", pa.float64()),
        ("ended_at", pa.float64()),
        ("condition", pa.string()),
        ("initial_answer", pa.string()),
        ("initial_correct", pa.bool_()),
    ]
)
"""The columns of ``episode_table``: ``EpisodeRecord``'s scalar fields, same names."""

_ERRORS = pa.array([r.value for r in TerminationReason if r.is_error], pa.string())
_REASONS = pa.array([r.value for r in TerminationReason], pa.string())
_OPTIONAL = {"final_answer", "condition", "initial_answer", "initial_correct"}
_BLOCK = 1 << 20  # per parsed block: peak memory is ~40x this; a longer line falls back
_CONDITION_DEFAULT = EpisodeRecord.model_fields["condition"].default


def _last_line(path: Path) -> JsonLine | None:
    """The file's last non-empty line, read from its end (it is at most one record long)."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        end, block, tail = size, 64 * 1024, b""
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            tail = fh.read(end - start) + tail
            cut = tail.rstrip(b"\n").rfind(b"\n")
            if cut >= 0:
                return JsonLine(0, start + cut + 1, tail[cut + 1 :], last=True)
            end = start
    return JsonLine(0, 0, tail, last=True) if tail.strip() else None


def _readable_size(path: Path) -> int:
    """Bytes up to the end of the last complete, valid line (a torn tail left out)."""
    last = _last_line(path)
    if last is None:
        return 0
    try:
        EpisodeRecord.model_validate_json(last.data)
    except ValidationError:
        followed_by_blank = last.data.rstrip() != last.data[:-1]
        return len(last.data) + last.offset if followed_by_blank else last.offset  # reader: damage
    return last.offset + len(last.data) if last.complete else last.offset


def _plausible(table: pa.Table) -> bool:
    """Every required column is set and every termination is one we know: else a line held
    JSON that is not a record (pyarrow reads any object), and the full reader must judge."""
    if any(table[name].null_count for name in EPISODE_COLUMNS.names if name not in _OPTIONAL):
        return False
    return bool(pc.all(pc.is_in(table["termination"], value_set=_REASONS)).as_py())


class _Prefix(io.RawIOBase):
    """The first ``size`` bytes of a file, as a stream (the torn tail left unread)."""

    def __init__(self, fh: io.BufferedReader, size: int) -> None:
        self._fh, self._left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self._left]
        n = self._fh.readinto(view)
        self._left -= n
        return n


def _parse(path: Path, size: int) -> pa.Table:
    """Stream the lines through pyarrow block by block: memory is the columns, not the file."""
    options = pj.ParseOptions(explicit_schema=EPISODE_COLUMNS, unexpected_field_behavior="ignore")
    with path.open("rb") as fh:
        reader = pj.open_json(
            _Prefix(fh, size), read_options=pj.ReadOptions(block_size=_BLOCK), parse_options=options
        )
        return pa.Table.from_batches(list(reader), schema=EPISODE_COLUMNS)


def _from_records(run_dir: Path) -> pa.Table:
    """The slow, exact path: the full reader's records (its errors raised as they are)."""
    names = EPISODE_COLUMNS.names
    rows = [
        record.model_dump(mode="json", include=set(names))
        for _, record in EPISODE_RECORDS.read(run_dir)
    ]
    return pa.Table.from_pylist(rows, schema=EPISODE_COLUMNS)


def _latest(table: pa.Table) -> pa.Table:
    """One row per episode id: its latest record, at the position of its first."""
    indexed = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    groups = indexed.group_by("episode_id", use_threads=False).aggregate(
        [("_row", "min"), ("_row", "max")]
    )
    if groups.num_rows == table.num_rows:
        return table
    order = pc.sort_indices(groups, sort_keys=[("_row_min", "ascending")])
    return table.take(pc.take(groups["_row_max"], order))


def episode_table(run_dir: Path | str) -> pa.Table:
    """The episodes of ``run_dir`` as a table of ``EPISODE_COLUMNS`` plus ``is_error`` (the
    termination is an error), one row per episode, in recorded order. An absent file has none.
    """
    run_dir = Path(run_dir)
    path = run_dir / EPISODE_RECORDS.name
    size = _readable_size(path) if path.is_file() else 0
    if size == 0:
        table = EPISODE_COLUMNS.empty_table()
    else:
        try:
            table = _parse(path, size)
        except pa.ArrowInvalid:  # damage, or a line only pyarrow minds: let the reader decide
            table = _from_records(run_dir)
        if not _plausible(table):
            table = _from_records(run_dir)
    conditions = pc.fill_null(table["condition"], _CONDITION_DEFAULT)  # records before schema 4
    table = table.set_column(table.schema.get_field_index("condition"), "condition", conditions)
    table = _latest(table)
    return table.append_column("is_error", pc.is_in(table["termination"], value_set=_ERRORS))
