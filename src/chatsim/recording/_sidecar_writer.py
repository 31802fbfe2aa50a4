"""``SidecarWriter``: a sidecar's rows, buffered as the run appends records, flushed as parts.

``EpisodeWriter(path, sidecars=(spec, ...))`` owns one per spec and hands it each record after
the record's line is written and flushed, with the line's byte range. Every ``part_rows``
records (and at close) the buffered rows become one part, covering exactly the lines
appended. Parts are encoded on one worker thread this writer owns (started with the first
part, joined at close, one part in flight at most), so the event loop appending records does
not stall on Arrow IPC encoding (10-100 ms a part on a busy 2-core box).

The sidecar is only a cache: the first failure (an extractor that raises, a full disk) logs
one warning and stops this writer for good; the records are already on disk, and the next
``read_sidecar`` builds what is missing. Rows not yet flushed when the process dies are
rebuilt the same way.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatsim._logging import get_logger
from chatsim.recording._records import EpisodeRecord
from chatsim.recording._sidecar import SidecarSpec

__all__ = ["SidecarWriter"]

_log = get_logger("chatsim.recording")


@dataclass
class SidecarWriter:
    """Buffers the rows of ``spec`` for the records appended to ``run_dir``'s episodes."""

    run_dir: Path
    spec: SidecarSpec
    failed: bool = False
    """A failure stopped this writer; parts already written stay valid."""
    _rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _start: int = field(default=0, repr=False)
    _end: int = field(default=0, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _pending: Future[None] | None = field(default=None, repr=False)

    def add(self, record: EpisodeRecord, start: int, end: int) -> None:
        """The record whose line is bytes ``[start, end)`` of the records file. Never raises."""
        if self.failed:
            return
        try:
            if self._rows and start != self._end:  # not contiguous (never, from one writer)
                self._flush()
            if not self._rows:
                self._start = start
            self._rows.append(self.spec.extract(record))
            self._end = end
            if len(self._rows) >= self.spec.part_rows:
                self._flush()
        except Exception as exc:  # a cache only: whatever went wrong, the records are safe
            self._fail(exc)

    def close(self) -> None:
        """Flush what is buffered and wait for the part in flight. Never raises."""
        try:
            if not self.failed and self._rows:
                self._flush()
            self._wait()
        except Exception as exc:  # as in add: never let the cache fail the run
            self._fail(exc)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        self._wait()  # the part before must be done: bounded memory, its error seen here
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                1, thread_name_prefix=f"chatsim-sidecar-{self.spec.name}"
            )
        self._pending = self._pool.submit(self._write, rows, self._start, self._end)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # the worker's error, raised here

    def _write(self, rows: list[dict[str, Any]], start: int, end: int) -> None:
        # pyarrow loads with the first part, not on `import chatsim.recording`.
        import pyarrow as pa

        from chatsim.recording._sidecar_parts import write_part

        table = pa.Table.from_pylist(rows, schema=self.spec.schema.remove_metadata())
        write_part(self.run_dir, self.spec, table, start, end, len(rows))

    def _fail(self, exc: Exception) -> None:
        if self.failed:
            return  # warned already
        self.failed, self._rows = True, []
        _log.warning(
            "sidecar writing stopped; records are unaffected and the next read rebuilds it",
            sidecar=self.spec.name, run_dir=str(self.run_dir), error=repr(exc),
        )  # fmt: skip
