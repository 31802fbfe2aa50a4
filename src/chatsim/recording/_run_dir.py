"""A run directory on disk: its header, crash-safe writing, tolerant reading, resume.

The layout is drawn in ``_layout.py``; the record files are JSON lines, appended and flushed
per record and read by the one tolerant reader of ``_jsonl.py``: a torn last line (the writer
was killed mid-line) is skipped on reading and cut away on resume; a damaged line anywhere else
makes readers refuse the run and point to ``chatsim repair`` (``_repair.py``).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chatsim._exceptions import RunDirectoryError
from chatsim.recording._files import EPISODE_RECORDS
from chatsim.recording._jsonl import JsonlWriter, TornTail
from chatsim.recording._layout import EPISODES_FILE, HEADER_FILE, LOCK_FILE
from chatsim.recording._records import SCHEMA_VERSION, EpisodeRecord, RunHeader
from chatsim.recording._scan import RecordedEpisodes, scan_recorded
from chatsim.recording._sidecar import SidecarSpec
from chatsim.recording._sidecar_writer import SidecarWriter

__all__ = [
    "EpisodeWriter",
    "RunData",
    "create_run_dir",
    "open_for_resume",
    "open_recorded_for_resume",
    "read_header",
    "read_run",
    "run_dir_lock",
    "write_json_atomic",
]


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


def _read_episodes(run_dir: Path) -> tuple[list[EpisodeRecord], TornTail | None, int]:
    """(records, a skipped torn tail or None, superseded records), in one pass.

    An episode recorded twice (``--retry-errors`` re-ran it) is represented by its latest
    record, at the position of its first.
    """
    latest: dict[str, EpisodeRecord] = {}
    superseded = 0
    records = EPISODE_RECORDS.read(run_dir)
    for _, record in records:
        superseded += record.episode_id in latest
        latest[record.episode_id] = record
    return list(latest.values()), records.torn_tail, superseded


def read_run(run_dir: Path | str) -> RunData:
    """Read a run without changing it. A torn last line is skipped (``torn_tail``)."""
    path = Path(run_dir)
    header = read_header(path)
    episodes, torn, duplicates = _read_episodes(path)
    return RunData(path, header, episodes, torn_tail=torn is not None, duplicates=duplicates)


@dataclass
class EpisodeWriter(JsonlWriter):
    """The writer of ``episodes.jsonl``: a ``JsonlWriter`` that also feeds ``sidecars``.

    Each sidecar (``_sidecar.py``) is handed every record after its line is on disk, with the
    line's byte range; a failing sidecar stops itself and never the records.
    """

    sidecars: Sequence[SidecarSpec] = ()
    _offset: int = field(default=0, repr=False)
    _writers: list[SidecarWriter] = field(default_factory=list, repr=False)

    def open(self) -> EpisodeWriter:
        super().open()
        self._offset = self.path.stat().st_size  # after the torn tail's cut
        self._writers = [SidecarWriter(self.path.parent, spec) for spec in self.sidecars]
        return self

    def __enter__(self) -> EpisodeWriter:
        return self.open()

    def append(self, record: BaseModel) -> None:
        super().append(record)
        if not self._writers or self._fh is None:
            return
        start, self._offset = self._offset, os.fstat(self._fh.fileno()).st_size
        if isinstance(record, EpisodeRecord):
            for writer in self._writers:
                writer.add(record, start, self._offset)

    def close(self) -> None:
        super().close()
        for writer in self._writers:
            writer.close()
        self._writers = []


@contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run directory while writing it.

    A second process (``--resume`` while the run is still going) gets a clear error instead of
    appending the same episodes twice. The lock is ``fcntl.flock`` on ``RUN_DIR/.lock``: the
    kernel drops it when the holder dies, so a killed run never leaves a stale lock.
    """
    path = Path(run_dir) / LOCK_FILE
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


def _header_for_resume(path: Path) -> RunHeader:
    """The header, raised to the current schema on disk when older: records appended from now
    on are of it, so an older chatsim refuses the directory as "newer" rather than failing on
    a record it cannot read."""
    header = read_header(path)
    if header.schema_version < SCHEMA_VERSION:
        header = header.model_copy(update={"schema_version": SCHEMA_VERSION})
        write_json_atomic(path / HEADER_FILE, header.model_dump(mode="json"))
    return header


def _cut(path: Path, torn: TornTail | None) -> None:
    """Truncate the records at the start of the torn line; complete records stay untouched."""
    if torn is not None:
        with (path / EPISODES_FILE).open("r+b") as fh:
            fh.truncate(torn.offset)


def open_for_resume(run_dir: Path) -> RunData:
    """Read a run for resuming it, cutting a torn last line away first.

    Complete records are never touched: the file is truncated at the start of the torn line.
    A header of an older schema is raised to the current one. Reads every record in full:
    resume itself uses ``open_recorded_for_resume``, which does not.
    """
    path = Path(run_dir)
    header = _header_for_resume(path)
    episodes, torn, duplicates = _read_episodes(path)  # one pass over the file
    _cut(path, torn)
    return RunData(path, header, episodes, torn_tail=torn is not None, duplicates=duplicates)


def open_recorded_for_resume(run_dir: Path) -> tuple[RunHeader, RecordedEpisodes]:
    """``open_for_resume`` without the records: the header and how each recorded episode
    ended, read by the frame scan of ``_scan.py`` (a record is not validated unless its line
    does not read as the writer wrote it). Cuts a torn last line and raises an older header
    exactly like ``open_for_resume``; a damaged line before the last raises the same
    ``RunDirectoryError``."""
    path = Path(run_dir)
    header = _header_for_resume(path)
    recorded = scan_recorded(path)
    _cut(path, recorded.torn_tail)
    return header, recorded
