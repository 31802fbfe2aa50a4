"""``repair_run``: move a run's damaged record lines aside so that the run can go on.

A damaged line in the middle of ``episodes.jsonl`` cannot be a torn write (only the last line
can be), so readers refuse the whole run rather than guess what it held. Repair is the way
forward, and it never deletes anything:

1. every line that does not validate (a torn last line included) is appended, byte for byte,
   to a quarantine file next to the records (``episodes.quarantine.jsonl``), which is flushed
   and fsynced before anything else changes;
2. the valid lines are copied byte for byte (never re-serialised) to a temp file in the same
   directory, which is fsynced and then renamed over the records file.

A crash at any point leaves the old records file or the new one, and at worst a damaged line
quarantined twice. The quarantined episodes are then simply missing, so ``chatsim run
--resume`` re-runs exactly them. Blank lines are not records: they never cause a repair, and a
rewritten file leaves them out. Before ``episodes.jsonl`` is rewritten its sidecars
(``RUN_DIR/sidecars``: derived caches addressed by byte offset) are deleted; the next read
rebuilds them.

Damage is decided by ``check_lines``, the check the readers use (``_jsonl.py``): a line is
quarantined exactly when a reader would refuse the file for it or skip it as a torn tail. Every
record file of the run (``RECORD_FILES``: episodes, baseline, judge) is checked by default.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatsim._exceptions import RunDirectoryError
from chatsim.recording._files import RECORD_FILES, RecordFile
from chatsim.recording._jsonl import check_lines
from chatsim.recording._layout import EPISODES_FILE
from chatsim.recording._run_dir import read_header, run_dir_lock
from chatsim.recording._sidecar import remove_sidecars

__all__ = ["FileRepair", "QuarantinedLine", "RepairResult", "recover_ids", "repair_run"]


@dataclass(frozen=True)
class QuarantinedLine:
    """A line moved to the quarantine file."""

    number: int
    """1-based line number in the records file as it was before the repair."""
    length: int
    """The line's length in bytes, its newline included."""
    reason: str
    """Why it was moved: a short summary of the validation error (no record content)."""
    record_ids: tuple[str, ...]
    """The ``id_field`` values found in the damaged text: usually one, none when the field
    itself was lost, several when a cut glued two records together."""


@dataclass(frozen=True)
class FileRepair:
    """What repair found in one records file."""

    path: Path
    quarantine: Path
    id_field: str
    kept: int
    """Valid records left in the file (blank lines not counted)."""
    quarantined: tuple[QuarantinedLine, ...]
    """Lines moved to ``quarantine``; empty when the file was left untouched."""


@dataclass(frozen=True)
class RepairResult:
    """The outcome of ``repair_run``: one entry per records file present."""

    run_dir: Path
    files: tuple[FileRepair, ...]

    @property
    def nothing_to_repair(self) -> bool:
        """True when no file had a damaged line (and none was touched)."""
        return not any(f.quarantined for f in self.files)


def recover_ids(line: bytes, field: str) -> tuple[str, ...]:
    """The values of ``field`` in a damaged line: parsed when the JSON still parses, else
    found by pattern (the line may be cut anywhere, or glued to the next one)."""
    text = line.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get(field), str):
        return (data[field],)
    # An unescaped key: `\"episode_id\"` inside some message text is not the field.
    pattern = re.compile(rf'(?<!\\)"{re.escape(field)}"\s*:\s*"((?:[^"\\]|\\.)*)"')
    found: list[str] = []
    for match in pattern.finditer(text):
        try:
            value = json.loads(f'"{match.group(1)}"')
        except ValueError:
            value = match.group(1)
        if isinstance(value, str) and value not in found:
            found.append(value)
    return tuple(found)


def _find_damage(path: Path, kind: RecordFile[Any]) -> tuple[int, list[QuarantinedLine]]:
    """(valid records, damaged lines) of one file; reads it, changes nothing."""
    kept = 0
    damaged: list[QuarantinedLine] = []
    for checked in check_lines(path, kind.model):
        line = checked.line
        if checked.problem is None:
            kept += 1
        else:
            ids = recover_ids(line.data, kind.id_field)
            damaged.append(QuarantinedLine(line.number, len(line.data), checked.problem, ids))
    return kept, damaged


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (the directory entry is data too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_aside(path: Path, quarantine: Path, damaged: set[int]) -> None:
    """Append lines ``damaged`` to ``quarantine`` and replace ``path`` by the other lines.

    The quarantine is durable before the rename, so a damaged line is never only in memory.
    """
    tmp = path.with_name(f".{path.name}.repair")
    try:
        with path.open("rb") as src, quarantine.open("ab") as quar, tmp.open("wb") as out:
            if quar.tell() > 0 and not _ends_with_newline(quarantine):
                quar.write(b"\n")  # an earlier repair died mid-line: never glue onto it
            for number, line in enumerate(src, start=1):
                if number in damaged:
                    quar.write(line if line.endswith(b"\n") else line + b"\n")
                elif line.strip():
                    out.write(line)
            quar.flush()
            os.fsync(quar.fileno())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _repair_file(run_dir: Path, kind: RecordFile[Any]) -> FileRepair:
    path, quarantine = run_dir / kind.name, run_dir / kind.quarantine
    kept, damaged = _find_damage(path, kind)
    if damaged:
        if kind.name == EPISODES_FILE:
            remove_sidecars(run_dir)  # their byte ranges are of the file about to be rewritten
        _move_aside(path, quarantine, {line.number for line in damaged})
    return FileRepair(path, quarantine, kind.id_field, kept, tuple(damaged))


def repair_run(
    run_dir: Path | str, files: Sequence[RecordFile[Any]] = RECORD_FILES
) -> RepairResult:
    """Move the damaged lines of a run's record files to their quarantine files.

    ``files`` are the record files to check (those absent are skipped): by default every one a
    run can hold (episodes, baseline, judge). Holds the run directory's lock, so it never races
    a writer: a run still going gives a ``RunDirectoryError``, as does a directory that is not a
    run. A run with nothing damaged is left untouched, so a second repair finds nothing.
    """
    path = Path(run_dir)
    read_header(path)  # before the lock, which would create RUN_DIR/.lock anywhere
    with run_dir_lock(path):
        try:
            repairs = [_repair_file(path, kind) for kind in files if (path / kind.name).is_file()]
        except OSError as exc:
            raise RunDirectoryError(f"cannot repair {path}: {exc}") from exc
    return RepairResult(path, tuple(repairs))
