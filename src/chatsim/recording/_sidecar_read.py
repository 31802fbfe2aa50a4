"""Reading a sidecar: its valid parts, plus the records they do not cover, made into parts.

The plan: parts judged ``ok`` are chained from byte 0 (at each start the longest part wins,
an overlapped one is skipped); the first ``stale`` part (the file no longer holds its bytes)
ends the chain, since every part after it may be stale too. The bytes between chosen parts
and after the last are read from ``episodes.jsonl`` by the reader's rules (``_jsonl.py``):
blank lines skipped, a torn last line left out, a damaged line raising the same
``RunDirectoryError`` as ``read_run`` (naming ``chatsim repair``), with the same line number.
One record is held at a time: each is turned into its row and dropped, and rows become a
table every ``spec.part_rows`` records.

With ``build``, those tables are also written as parts, and parts that are stale, foreign or
overlapped are deleted, unless another process holds the run directory's lock (a run or a
repair is writing it): then nothing is written, the running writer keeps its own parts, and
the result is the same. The check is a non-blocking shared ``flock`` taken and released at
once (a run or repair starting in those microseconds is refused as "being written", nothing
worse), before the read and again before each part is written, so a repair that starts
during a long build stops it. A part that still slips in is judged by its crc windows against
the rewritten file like any other.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from chatsim._exceptions import RunDirectoryError
from chatsim._logging import get_logger
from chatsim.recording._jsonl import JsonLine, damage_message, line_problem
from chatsim.recording._layout import EPISODES_FILE, LOCK_FILE
from chatsim.recording._records import EpisodeRecord
from chatsim.recording._run_dir import read_header
from chatsim.recording._sidecar import SidecarSpec
from chatsim.recording._sidecar_parts import PartInfo, read_part, scan_parts, write_part

__all__ = ["SidecarRead", "load"]

_log = get_logger("chatsim.recording")


@dataclass
class SidecarRead:
    """A sidecar as read: the table, and what it took."""

    table: pa.Table
    """One row per episode (``spec.schema``), latest record at the position of the first."""
    torn_tail: bool = False
    """The last line was incomplete (the writer died mid-line); it was left out."""
    duplicates: int = 0
    """Rows superseded by a later record of the same episode (as ``RunData.duplicates``)."""
    parts_read: int = 0
    """Parts whose rows were used as they were."""
    records_read: int = 0
    """Records read from ``episodes.jsonl`` because no valid part covered them."""
    parts_written: int = 0
    """Parts this read wrote (0 without ``build``, or while a writer holds the lock)."""


def writer_active(run_dir: Path) -> bool:
    """Another open file holds the run directory's lock (a run or a repair is writing)."""
    try:
        fh = (run_dir / LOCK_FILE).open("rb")
    except FileNotFoundError:
        return False  # never locked: no writer has started
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def plan(parts: list[PartInfo], size: int) -> tuple[list[PartInfo | tuple[int, int]], list[Path]]:
    """(parts and byte ranges to read from the records, in file order; parts not used)."""
    limit = min((p.start for p in parts if p.verdict == "stale"), default=size)
    steps: list[PartInfo | tuple[int, int]] = []
    unused: list[Path] = []
    pos = 0
    for part in parts:
        if part.verdict != "ok" or part.start < pos or part.end > limit:
            unused.append(part.path)
            continue
        if part.start > pos:
            steps.append((pos, part.start))
        steps.append(part)
        pos = part.end
    if pos < size:
        steps.append((pos, size))
    return steps, unused


def _lines(fh: BinaryIO, start: int, stop: int, size: int, number: int) -> Iterator[JsonLine]:
    """The lines of ``[start, stop)``, numbered after ``number``; the one ending at ``size``
    (the file's end when the read began) is the last, the only one a crash can have torn."""
    fh.seek(start)
    offset = start
    while offset < stop:
        data = fh.readline(stop - offset)
        if not data:
            return
        number += 1
        yield JsonLine(number, offset, data, last=offset + len(data) >= size)
        offset += len(data)


@dataclass
class _Chunk:
    """Rows read from one stretch of the records file, at most ``spec.part_rows`` of them."""

    start: int
    end: int = 0
    lines: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Reader:
    """Reads ranges of the records file into tables, writing them as parts when building."""

    run_dir: Path
    spec: SidecarSpec
    fh: BinaryIO
    size: int
    build: bool
    result: SidecarRead
    tables: list[pa.Table] = field(default_factory=list)
    lines: int = 0
    """Lines before the next byte to read (for line numbers in errors)."""

    def part(self, info: PartInfo) -> None:
        table = read_part(info, self.spec)
        if table is None:  # unreadable after all (or deleted meanwhile): read its records
            self.records(info.start, info.end)
            return
        self.tables.append(table)
        self.lines += info.lines
        self.result.parts_read += 1

    def records(self, start: int, stop: int) -> None:
        path = self.run_dir / EPISODES_FILE
        chunk, before = _Chunk(start, start), self.lines
        for line in _lines(self.fh, start, stop, self.size, self.lines):
            self.lines = line.number
            record = self._record(path, line)
            if record is None:
                continue
            chunk.lines = line.number - before
            chunk.end = line.offset + len(line.data)
            chunk.rows.append(self.spec.extract(record))
            if len(chunk.rows) >= self.spec.part_rows:
                self._close(chunk)
                chunk, before = _Chunk(chunk.end, chunk.end), line.number
        self._close(chunk)

    def _record(self, path: Path, line: JsonLine) -> EpisodeRecord | None:
        """The line's record; None for a blank line or a torn tail (noted); damage raises."""
        if not line.data.strip():
            return None
        try:
            record = EpisodeRecord.model_validate_json(line.data)
            problem = None if line.complete else line_problem(line, None)
        except ValidationError as exc:
            problem = line_problem(line, exc)
        if problem is None:
            return record
        if line.last:
            self.result.torn_tail = True
            return None
        raise RunDirectoryError(damage_message(path, line.number, "episode", problem))

    def _close(self, chunk: _Chunk) -> None:
        """Make the chunk's rows a table (and a part, when building); its blank lines after
        the last record are left to the next read."""
        if not chunk.rows:
            return
        table = pa.Table.from_pylist(chunk.rows, schema=self.spec.schema.remove_metadata())
        self.tables.append(table)
        self.result.records_read += table.num_rows
        if self.build:
            self._write(table, chunk)

    def _write(self, table: pa.Table, chunk: _Chunk) -> None:
        if writer_active(self.run_dir):  # a run or repair began meanwhile: leave it the files
            self.build = False
            return
        try:
            write_part(self.run_dir, self.spec, table, chunk.start, chunk.end, chunk.lines)
        except (OSError, pa.ArrowException, ValueError) as exc:
            self.build = False  # a cache only: the read goes on without writing parts
            _log.warning(
                "could not write a sidecar part; reading on without caching",
                sidecar=self.spec.name, run_dir=str(self.run_dir), error=repr(exc),
            )  # fmt: skip
            return
        self.result.parts_written += 1


def latest(table: pa.Table) -> pa.Table:
    """One row per episode id: its latest row, at the position of its first (``read_run``'s
    rule). Without duplicates, the table as it is.

    By sorting the ids rather than hashing them: at 1M ids, sorting and comparing neighbours
    took 0.1-0.6 s, hashing them (``dictionary_encode``) 1.3 s and twice the memory."""
    n = table.num_rows
    if n < 2:
        return table
    ids = table["episode_id"]
    order = pc.sort_indices(ids)
    ranked = ids.take(order)
    neighbours = pc.equal(ranked[1:], ranked[:-1])
    if not pc.any(neighbours).as_py():
        return table
    # (a chunked array's to_numpy imports pandas: 0.5 s and 40 MB, so one array each)
    same = neighbours.combine_chunks().to_numpy(zero_copy_only=False)
    rows = order.to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ~same)))  # where each id's run begins
    first = np.minimum.reduceat(rows, starts)
    last = np.maximum.reduceat(rows, starts)
    keep = np.zeros(n, dtype=np.bool_)
    keep[first] = True
    pick = np.arange(n, dtype=np.int64)
    pick[first] = last  # the first row's place, the last row's values
    return table.take(pa.array(pick[keep]))


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            return  # a read-only run directory: left as they are, and ignored again next time


def load(run_dir: Path, spec: SidecarSpec, *, build: bool) -> SidecarRead:
    """The sidecar ``spec`` of ``run_dir``; see ``read_sidecar``."""
    read_header(run_dir)  # the errors of read_run for what is not a run directory
    path = run_dir / EPISODES_FILE
    # Not schema.empty_table(): it imports pandas (a second, on a busy box) for nothing.
    result = SidecarRead(pa.Table.from_batches([], schema=spec.schema.remove_metadata()))
    if not path.is_file():
        return result
    build = build and not writer_active(run_dir)
    with path.open("rb") as fh:
        size = fh.seek(0, 2)  # read up to where the file ends now; later appends wait
        steps, unused = plan(list(scan_parts(run_dir, spec, size)), size)
        if build:
            _remove(unused)
        reader = _Reader(run_dir, spec, fh, size, build, result)
        for step in steps:
            if isinstance(step, PartInfo):
                reader.part(step)
            else:
                reader.records(*step)
    if reader.tables:
        table = pa.concat_tables(reader.tables)
        result.table = latest(table)
        result.duplicates = table.num_rows - result.table.num_rows
    return result
