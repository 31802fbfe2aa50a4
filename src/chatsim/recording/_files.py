"""The record files of a run directory: which record type each holds, and where its damaged
lines go. ``chatsim repair`` checks every file of ``RECORD_FILES`` by default.

The schemas of records written by other features (the baseline, the judge) live in
``chatsim.recording`` too, so this table needs no import of those features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from chatsim.recording._jsonl import JsonlRecords, read_jsonl
from chatsim.recording._layout import (
    BASELINE_FILE,
    BASELINE_QUARANTINE_FILE,
    EPISODES_FILE,
    EPISODES_QUARANTINE_FILE,
    JUDGE_FILE,
    JUDGE_QUARANTINE_FILE,
)
from chatsim.recording._records import EpisodeRecord
from chatsim.recording._records_baseline import BaselineRecord
from chatsim.recording._records_judge import JudgeRecord

__all__ = ["BASELINE_RECORDS", "EPISODE_RECORDS", "JUDGE_RECORDS", "RECORD_FILES", "RecordFile"]

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class RecordFile(Generic[R]):
    """A JSON-lines record file of a run directory, and how to check one of its lines."""

    name: str
    """The file's name inside the run directory (``episodes.jsonl``)."""
    model: type[R]
    """The record type every line must validate as."""
    quarantine: str
    """The name of the file damaged lines are appended to."""
    id_field: str
    """The field that names a record, recovered from damaged lines when it can be."""
    kind: str
    """What a record is called in messages ("not a valid episode record")."""

    def read(self, run_dir: Path | str) -> JsonlRecords[R]:
        """This file's records in ``run_dir`` (none when it is absent); see ``read_jsonl``."""
        return read_jsonl(Path(run_dir) / self.name, self.model, kind=self.kind)


EPISODE_RECORDS = RecordFile(
    EPISODES_FILE, EpisodeRecord, EPISODES_QUARANTINE_FILE, "episode_id", "episode"
)
BASELINE_RECORDS = RecordFile(
    BASELINE_FILE, BaselineRecord, BASELINE_QUARANTINE_FILE, "question_id", "baseline"
)
JUDGE_RECORDS = RecordFile(JUDGE_FILE, JudgeRecord, JUDGE_QUARANTINE_FILE, "episode_id", "judge")

RECORD_FILES: tuple[RecordFile[Any], ...] = (EPISODE_RECORDS, BASELINE_RECORDS, JUDGE_RECORDS)
"""Every record file a run directory can hold."""
