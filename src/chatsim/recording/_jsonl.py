"""JSON-lines record files: crash-safe appending, and the one tolerant reader of them.

Why append-and-flush: a finished record reaches the kernel before the next one is written, so
a killed process (SIGKILL, OOM) loses at most the line being written. That torn last line is
skipped by readers and cut away before the next append; complete lines are never rewritten.
``fsync=True`` also survives power loss, at a cost per record.

Why refuse the rest: a damaged line anywhere but last cannot be a torn write (the file was
edited, or a disk error cut it), so ``read_jsonl`` refuses the file rather than guess what the
line held, and names ``chatsim repair RUN_DIR`` (``_repair.py``), which moves such lines to a
quarantine file. Reader and repair share ``check_lines``, so what one refuses or skips is
exactly what the other moves aside.

The rules, for every record file (``episodes.jsonl``, ``baseline.jsonl``, ``judge.jsonl``):

- blank lines are not records: skipped, never damage;
- the last line is torn when it does not validate or lacks its newline (even a valid record
  without its newline: the next append's ``cut_torn_tail`` would remove it, so counting it as
  read would lose it); readers skip it and report where it starts (``TornTail``);
- any other line that does not validate is damage: ``RunDirectoryError``.

Lines are split on ``\\n`` bytes only: a record's text may hold other line separators
(``\\u2028``, ``\\x85``) that ``str.splitlines`` would wrongly cut at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TextIO, TypeVar

from pydantic import BaseModel, ValidationError

from chatsim._exceptions import RunDirectoryError

__all__ = [
    "CheckedLine",
    "JsonLine",
    "JsonlRecords",
    "JsonlWriter",
    "TornTail",
    "check_lines",
    "cut_torn_tail",
    "damage_message",
    "iter_lines",
    "line_problem",
    "read_jsonl",
    "validation_summary",
]

R = TypeVar("R", bound=BaseModel)

_TORN = "torn last line (no newline)"


@dataclass(frozen=True, slots=True)
class JsonLine:
    """One line of a JSON-lines file, as bytes."""

    number: int
    """1-based line number."""
    offset: int
    """Byte offset of the line's start: where to truncate to cut it away."""
    data: bytes
    """The line, its newline included when it has one."""
    last: bool
    """No line follows: the only line a crash can have torn."""

    @property
    def complete(self) -> bool:
        return self.data.endswith(b"\n")


def iter_lines(path: Path) -> Iterator[JsonLine]:
    """Every line of ``path``, one at a time (a one-line lookahead tells the last)."""
    with path.open("rb") as fh:
        held: bytes | None = None
        number = offset = 0
        for data in fh:
            if held is not None:
                yield JsonLine(number, offset, held, last=False)
                offset += len(held)
            number, held = number + 1, data
        if held is not None:
            yield JsonLine(number, offset, held, last=True)


def validation_summary(exc: ValidationError) -> str:
    """The first error of ``exc`` in one line, without the input: a record may hold text a
    user would not want in an error message, and pydantic's ``str(exc)`` quotes it."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return exc.title
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc + ': ' if loc else ''}{first['msg']}{more}"


@dataclass(frozen=True, slots=True)
class CheckedLine(Generic[R]):
    """A non-blank line, validated: its record, or why it cannot stay in the file."""

    line: JsonLine
    record: R | None
    """The record; None when ``problem`` is set."""
    problem: str | None
    """None for a valid, complete record; else a one-line reason (no record content)."""


def line_problem(line: JsonLine, exc: ValidationError | None) -> str:
    """Why ``line`` cannot stay: its validation error (None: it validated), torn when it lacks
    its newline. One line, no record content."""
    if exc is None:
        return f"{_TORN}: a write the process died in"
    reason = validation_summary(exc)
    return reason if line.complete else f"{_TORN}: {reason}"


def check_lines(path: Path, model: type[R]) -> Iterator[CheckedLine[R]]:
    """Every non-blank line of ``path`` checked as a ``model``; reads, changes nothing."""
    for line in iter_lines(path):
        if not line.data.strip():
            continue
        try:
            record = model.model_validate_json(line.data)
        except ValidationError as exc:
            yield CheckedLine(line, None, line_problem(line, exc))
            continue
        if line.complete:
            yield CheckedLine(line, record, None)
        else:  # a valid record whose newline never reached the file
            yield CheckedLine(line, None, line_problem(line, None))


def damage_message(path: Path, number: int, kind: str, problem: str | None) -> str:
    """The error for a damaged line that is not the last: not a torn write, so repair it."""
    return (
        f"{path}:{number} is not a valid {kind} record ({problem}) and is not the last line, "
        "so it is not a torn write: the file was edited or damaged; to move the damaged lines "
        f"aside, run: chatsim repair {path.parent}"
    )


@dataclass(frozen=True, slots=True)
class TornTail:
    """A last line that a crash tore, skipped by the reader."""

    number: int
    """Its 1-based line number."""
    offset: int
    """Where it starts: truncating the file here removes it and nothing else."""


class JsonlRecords(Generic[R]):
    """The valid records of one JSON-lines file, read lazily: iterate for ``(line number,
    record)``; once the iteration is done, ``torn_tail`` says whether a torn last line was
    skipped. Iterating again reads the file again. An absent file has no records."""

    def __init__(self, path: Path, model: type[R], *, kind: str = "record") -> None:
        self.path = Path(path)
        self.model = model
        self.kind = kind
        self.torn_tail: TornTail | None = None

    def __iter__(self) -> Iterator[tuple[int, R]]:
        self.torn_tail = None
        if not self.path.is_file():
            return
        for checked in check_lines(self.path, self.model):
            if checked.record is not None:
                yield checked.line.number, checked.record
            elif checked.line.last:
                self.torn_tail = TornTail(checked.line.number, checked.line.offset)
            else:
                raise RunDirectoryError(
                    damage_message(self.path, checked.line.number, self.kind, checked.problem)
                )


def read_jsonl(path: Path | str, model: type[R], *, kind: str = "record") -> JsonlRecords[R]:
    """The records of the JSON-lines file ``path``, each validated as a ``model``.

    A torn last line is skipped (``torn_tail``); a damaged line elsewhere raises a
    ``RunDirectoryError`` naming the line, ``kind`` ("episode": "not a valid episode record")
    and ``chatsim repair``. Nothing is changed on disk.
    """
    return JsonlRecords(Path(path), model, kind=kind)


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
    Used for ``episodes.jsonl``, the AI-alone ``baseline.jsonl`` and the judge's
    ``judge.jsonl``.
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
