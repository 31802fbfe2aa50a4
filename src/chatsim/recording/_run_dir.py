"""A run directory on disk: crash-safe writing, tolerant reading, repair on resume.

Layout::

    RUN_DIR/header.json      RunHeader, written once, atomically (temp file + rename)
    RUN_DIR/episodes.jsonl   one EpisodeRecord per line, appended and flushed per episode
    RUN_DIR/summary.json     the summary, rewritten atomically at the end (derived data)
    RUN_DIR/log.jsonl        structured log
    RUN_DIR/load_summary.json   load tests only: throughput, latency over time, goodput

Why append-and-flush: a finished episode reaches the kernel before the next one starts, so a
killed process (SIGKILL, OOM) loses at most the line being written. That torn last line is
detected on resume and cut away; complete lines are never rewritten. ``fsync=True`` also
survives power loss, at a cost per episode. A damaged line anywhere else cannot be a torn
write, so readers refuse the run and point to ``chatsim repair`` (``_repair.py``), which moves
such lines to a quarantine file.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ValidationError

from chatsim._exceptions import RunDirectoryError
from chatsim.recording._records import SCHEMA_VERSION, EpisodeRecord, RunHeader

__all__ = [
    "EPISODES_FILE",
    "HEADER_FILE",
    "LOAD_SUMMARY_FILE",
    "LOG_FILE",
    "SUMMARY_FILE",
    "EpisodeWriter",
    "JsonlWriter",
    "RunData",
    "create_run_dir",
    "cut_torn_tail",
    "open_for_resume",
    "read_header",
    "read_run",
    "run_dir_lock",
    "write_json_atomic",
]

HEADER_FILE = "header.json"
EPISODES_FILE = "episodes.jsonl"
SUMMARY_FILE = "summary.json"
LOG_FILE = "log.jsonl"
LOAD_SUMMARY_FILE = "load_summary.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_header(run_dir: Path) -> RunHeader:
    """The run's header, or a ``RunDirectoryError`` that says what is wrong."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirectoryError(f"{path} is not a directory; pass a run directory (runs/<id>)")
    header_path = path / HEADER_FILE
    if not header_path.is_file():
        raise RunDirectoryError(f"{path} is not a chatsim run directory: it has no {HEADER_FILE}")
    try:
        header = RunHeader.model_validate_json(header_path.read_bytes())
    except (ValidationError, ValueError) as exc:
        raise RunDirectoryError(
            f"{header_path} is damaged or not a chatsim header ({exc.__class__.__name__}); "
            "start a new run instead of resuming this one"
        ) from exc
    if header.schema_version > SCHEMA_VERSION:
        raise RunDirectoryError(
            f"{path} was written by a newer chatsim (schema {header.schema_version}); "
            "upgrade chatsim to read it"
        )
    return header


def _iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(byte offset, line, complete) for each line; the last may lack its newline."""
    offset = 0
    with path.open("rb") as fh:
        for line in fh:
            yield offset, line, line.endswith(b"\n")
            offset += len(line)


@dataclass
class RunData:
    """A run as read from disk."""

    path: Path
    header: RunHeader
    episodes: list[EpisodeRecord]
    torn_tail: bool = False
    """The last line was incomplete (the writer died mid-line); it was skipped."""
    duplicates: int = 0
    """Records superseded by a later record of the same episode (a re-run of an episode that
    had ended in an error); the latest is kept."""


def _scan(path: Path) -> tuple[list[EpisodeRecord], int | None, int]:
    """Parse episodes; return (records, offset of a torn tail or None, superseded records).

    An episode recorded twice (``--retry-errors`` re-ran it) is represented by its latest
    record, at the position of its first.
    """
    latest: dict[str, EpisodeRecord] = {}
    superseded = 0
    if not path.exists():
        return [], None, 0
    lines = list(_iter_lines(path))
    for number, (offset, line, complete) in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = EpisodeRecord.model_validate_json(line)
        except ValidationError as exc:
            if number == len(lines):  # only the last line can be torn by a crash
                return list(latest.values()), offset, superseded
            raise RunDirectoryError(
                f"{path}:{number} is not a valid episode record and is not the last line, so "
                f"it is not a torn write: the file was edited or damaged ({exc.error_count()} "
                "errors); to move the damaged lines aside and re-run their episodes on resume, "
                f"run: chatsim repair {path.parent}"
            ) from exc
        if not complete and number == len(lines):
            return list(latest.values()), offset, superseded
        superseded += record.episode_id in latest
        latest[record.episode_id] = record
    return list(latest.values()), None, superseded


def read_run(run_dir: Path | str) -> RunData:
    """Read a run without changing it. A torn last line is skipped (``torn_tail``)."""
    path = Path(run_dir)
    header = read_header(path)
    episodes, torn, duplicates = _scan(path / EPISODES_FILE)
    return RunData(path, header, episodes, torn_tail=torn is not None, duplicates=duplicates)


def cut_torn_tail(path: Path) -> int:
    """Remove a last line that has no newline (a write the process died in). Returns the
    number of bytes removed; complete lines are never touched."""
    if not path.exists():
        return 0
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the last newline in blocks; the tail is at most one record long.
        end, block = size, 64 * 1024
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            cut = fh.read(end - start).rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return size - (start + cut + 1)
            end = start
        fh.truncate(0)
        return size


@dataclass
class JsonlWriter:
    """Appends records as JSON lines: one write and one flush per record.

    Opening cuts a torn tail first, so an append never glues a record onto half of another.
    Used for ``episodes.jsonl`` and for the AI-alone ``baseline.jsonl``.
    """

    path: Path
    fsync: bool = False
    _fh: TextIO | None = field(default=None, repr=False)

    def open(self) -> JsonlWriter:
        cut_torn_tail(self.path)
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def __enter__(self) -> JsonlWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, record: BaseModel) -> None:
        if self._fh is None:
            raise RuntimeError(f"{type(self).__name__} is not open")
        # One write call per line so a crash can only tear the line being written.
        self._fh.write(record.model_dump_json() + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


EpisodeWriter = JsonlWriter
"""The writer of ``episodes.jsonl`` (a ``JsonlWriter``)."""


@contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run directory while writing it.

    A second process (``--resume`` while the run is still going) gets a clear error instead of
    appending the same episodes twice. The lock is ``fcntl.flock`` on ``RUN_DIR/.lock``: the
    kernel drops it when the holder dies, so a killed run never leaves a stale lock.
    """
    path = Path(run_dir) / ".lock"
    try:
        fh = path.open("a+")
    except OSError as exc:
        raise RunDirectoryError(f"cannot lock the run directory {run_dir}: {exc}") from exc
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirectoryError(
                f"{run_dir} is being written by another chatsim process; wait for it to "
                "finish (or stop it) before resuming or repairing it"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def create_run_dir(run_dir: Path, header: RunHeader) -> None:
    """Create a new run directory with its header. Refuses to overwrite an existing run."""
    if (run_dir / HEADER_FILE).exists() or (run_dir / EPISODES_FILE).exists():
        raise RunDirectoryError(
            f"{run_dir} already holds a run; resume it with --resume {run_dir} "
            "or pick a new --run-id"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / HEADER_FILE, header.model_dump(mode="json"))
    except OSError as exc:
        raise RunDirectoryError(f"cannot create the run directory {run_dir}: {exc}") from exc


def open_for_resume(run_dir: Path) -> RunData:
    """Read a run for resuming it, cutting a torn last line away first.

    Complete records are never touched: the file is truncated at the start of the torn line.
    A header of an older schema is raised to the current one (records appended from now on
    are of it), so that an older chatsim refuses the directory as "newer" rather than
    failing on a record it cannot read.
    """
    path = Path(run_dir)
    header = read_header(path)
    if header.schema_version < SCHEMA_VERSION:
        header = header.model_copy(update={"schema_version": SCHEMA_VERSION})
        write_json_atomic(path / HEADER_FILE, header.model_dump(mode="json"))
    episodes, torn_offset, duplicates = _scan(path / EPISODES_FILE)  # one pass over the file
    if torn_offset is not None:
        with (path / EPISODES_FILE).open("r+b") as fh:
            fh.truncate(torn_offset)
    return RunData(path, header, episodes, torn_tail=torn_offset is not None, duplicates=duplicates)
