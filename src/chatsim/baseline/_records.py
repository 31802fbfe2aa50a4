"""``baseline.jsonl`` read back: one ``BaselineRecord`` per AI-alone answer.

The schema (``BaselineRecord``, ``BaselineMode``) and the file name live with the other run
directory records in ``chatsim.recording``, whose owner of the run directory reads and repairs
every record file without importing this package; they are re-exported here for convenience.
"""

from __future__ import annotations

from pathlib import Path

from chatsim.recording import BASELINE_FILE, BASELINE_RECORDS, read_jsonl
from chatsim.recording._records_baseline import BaselineMode, BaselineRecord

__all__ = ["BASELINE_FILE", "BaselineMode", "BaselineRecord", "read_baseline"]


def read_baseline(path: Path | str) -> list[BaselineRecord]:
    """Records from a ``baseline.jsonl`` (or a run directory holding one); [] when absent.

    A torn last line (the writer died mid-line) is skipped; a damaged line elsewhere raises a
    ``RunDirectoryError`` (a ``DataError``) that names ``chatsim repair``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / BASELINE_FILE
    records = read_jsonl(path, BaselineRecord, kind=BASELINE_RECORDS.kind)
    return [record for _, record in records]
