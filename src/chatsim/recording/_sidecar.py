"""Sidecars: columnar caches of one row per record of ``episodes.jsonl``, kept beside it.

Why: a report at a million episodes cannot parse several GB of JSON lines in seconds, so the
rows a report needs are kept as Arrow IPC parts next to the records, written as the run goes
(``SidecarWriter``) and completed lazily on reading (``read_sidecar``). ``episodes.jsonl``
stays the source of truth: a sidecar can always be deleted and rebuilt from it.

::

    RUN_DIR/sidecars/<name>/part-<start>-<end>.arrow

Each part holds the rows of the records in one contiguous byte range ``[start, end)`` of
``episodes.jsonl`` (line boundaries) and says so in its key-value metadata, with the spec's
fingerprint and a cheap check that the file still holds those bytes: crc32 of the range's
first and last few KiB (the byte before ``start`` included). Parts are written to a unique
temp name and renamed, so a reader sees whole parts only; temp files (``.part-*``) are never
read. ``chatsim repair`` deletes ``RUN_DIR/sidecars`` before it rewrites the records.

What a part cannot see: damage inside its range away from the checked windows (a byte flipped
in the middle of a record after the part was written). Like the id scan of resume
(``_scan.py``), a sidecar trusts lines it has read once; ``read_run`` and ``chatsim repair``
still find such damage, and a repair deletes the sidecars.

This module does not import pyarrow (``import chatsim.recording`` stays light): the parts and
the reader live in ``_sidecar_parts.py`` / ``_sidecar_read.py``, loaded when first used.
"""

from __future__ import annotations

import hashlib
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chatsim.recording._layout import SIDECARS_DIR
from chatsim.recording._records import SCHEMA_VERSION, EpisodeRecord

if TYPE_CHECKING:
    import pyarrow as pa

    from chatsim.recording._sidecar_read import SidecarRead

__all__ = [
    "CHECK_WINDOW",
    "PART_ROWS",
    "SidecarSpec",
    "load_sidecar",
    "range_checks",
    "read_sidecar",
    "remove_sidecars",
    "sidecar_dir",
]

PART_ROWS = 4096
"""Rows per part: big enough that a million episodes are a few hundred files, small enough
that a writer's buffer (and a reader's batch of records) stays a few MB."""
CHECK_WINDOW = 4096
"""Bytes at each end of a part's range whose crc32 must still match."""


@dataclass(frozen=True)
class SidecarSpec:
    """What one sidecar holds: a name, a schema, and how a record becomes one row."""

    name: str
    """Its folder under ``RUN_DIR/sidecars/`` (``facts``)."""
    schema: pa.Schema
    """The row's columns; the first must be ``episode_id`` (string)."""
    version: int
    """Bump it whenever ``extract`` changes what it returns: older parts are then ignored
    and rebuilt."""
    extract: Callable[[EpisodeRecord], dict[str, Any]]
    """One row (a dict of the schema's columns) from one record."""
    part_rows: int = PART_ROWS
    """Rows per part (the writer's buffer, and the reader's batch of records)."""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"a sidecar name must be a plain identifier, not {self.name!r}")
        first = self.schema.field(0) if len(self.schema) else None
        if first is None or first.name != "episode_id" or str(first.type) != "string":
            raise ValueError("a sidecar schema's first column must be episode_id (string)")
        if self.part_rows < 1:
            raise ValueError(f"part_rows must be at least 1, not {self.part_rows}")

    @property
    def fingerprint(self) -> str:
        """Changes with the name, version, columns and the record schema: a part written under
        another fingerprint is not this sidecar's."""
        columns = self.schema.to_string(show_field_metadata=False, show_schema_metadata=False)
        text = f"{self.name}\n{self.version}\n{SCHEMA_VERSION}\n{columns}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def sidecar_dir(run_dir: Path, spec: SidecarSpec) -> Path:
    """Where ``spec``'s parts live in ``run_dir``."""
    return Path(run_dir) / SIDECARS_DIR / spec.name


def remove_sidecars(run_dir: Path) -> None:
    """Delete every sidecar of ``run_dir``: call it before rewriting ``episodes.jsonl``."""
    path = Path(run_dir) / SIDECARS_DIR
    if path.exists():
        shutil.rmtree(path)


def range_checks(fh: BinaryIO, start: int, end: int) -> tuple[int, int] | None:
    """crc32 of the head and tail windows of ``[start, end)`` in ``fh``, or None when the
    range is not whole lines of the file (``end`` past its end, no newline before ``start``
    or at ``end - 1``). Two small reads, whatever the range's size."""
    head_from = max(0, start - 1)  # the newline before the range: it starts a line
    fh.seek(head_from)
    head = fh.read(min(end, start + CHECK_WINDOW) - head_from)
    tail_from = max(start, end - CHECK_WINDOW)
    fh.seek(tail_from)
    tail = fh.read(end - tail_from)
    if len(tail) != end - tail_from or not tail.endswith(b"\n"):
        return None
    if start > 0 and not head.startswith(b"\n"):
        return None
    return zlib.crc32(head), zlib.crc32(tail)


def load_sidecar(run_dir: Path | str, spec: SidecarSpec, *, build: bool = True) -> SidecarRead:
    """``read_sidecar`` with what the read found (torn tail, duplicates, parts used/written).
    See ``chatsim.recording._sidecar_read``."""
    # pyarrow loads here, on the first read, not on `import chatsim.recording`.
    from chatsim.recording._sidecar_read import load

    return load(Path(run_dir), spec, build=build)


def read_sidecar(run_dir: Path | str, spec: SidecarSpec, *, build: bool = True) -> pa.Table:
    """One row per episode of ``run_dir`` (``spec``'s schema), in recorded order: an episode
    recorded twice is its latest record, at the position of its first (as in ``read_run``).

    Valid parts are read as they are; the records they do not cover are read from
    ``episodes.jsonl`` by the reader's rules (a torn last line left out, a damaged line raises
    the ``RunDirectoryError`` naming ``chatsim repair``) and, with ``build``, written as parts
    so the next read is fast.
    """
    return load_sidecar(run_dir, spec, build=build).table
