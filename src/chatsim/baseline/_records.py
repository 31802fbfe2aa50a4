"""``baseline.jsonl``: one line per AI-alone answer."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from chatsim._exceptions import DataError
from chatsim.recording._records import Usage
from chatsim.recording._repair import BASELINE_QUARANTINE_FILE, RecordFile, validation_summary

__all__ = ["BASELINE_FILE", "BASELINE_RECORDS", "BaselineMode", "BaselineRecord", "read_baseline"]

BASELINE_FILE = "baseline.jsonl"

BaselineMode = Literal["zero_shot", "five_shot", "free_text"]
"""``zero_shot``/``five_shot``: the model must answer with a letter only (MMLU-style prompt,
no or five dev examples); ``free_text``: it answers as it likes and the letter is extracted."""


class BaselineRecord(BaseModel):
    """One AI-alone answer to one question."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """The target's label."""
    question_id: str
    subject: str
    mode: BaselineMode
    repeat: int
    """0-based repeat of this (model, question, mode)."""
    gold: str
    answer: str | None
    """The letter extracted from the reply; None when none could be."""
    correct: bool
    text: str
    """The reply as received."""
    usage: Usage | None = None
    requested_at: float
    started_at: float
    first_token_at: float | None = None
    ended_at: float
    attempts: int = 1
    error: str | None = None
    """Redacted message when the call failed for good (then ``answer`` is None)."""


BASELINE_RECORDS = RecordFile(
    BASELINE_FILE, BaselineRecord, BASELINE_QUARANTINE_FILE, "question_id"
)
"""How ``chatsim repair`` checks ``baseline.jsonl`` (``chatsim.recording`` cannot import this
package, so the baseline describes its own file)."""


def read_baseline(path: Path | str) -> list[BaselineRecord]:
    """Records from a ``baseline.jsonl`` (or a run directory holding one); [] when absent.

    A torn last line (the writer died mid-line) is skipped.
    """
    path = Path(path)
    if path.is_dir():
        path = path / BASELINE_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(BaselineRecord.model_validate_json(line))
        except ValidationError as exc:
            if number == len(lines):
                break
            raise DataError(
                f"{path}:{number} is not a valid baseline record ({validation_summary(exc)}) and "
                "is not the last line, so it is not a torn write: the file was edited or "
                f"damaged; to move the damaged lines aside, run: chatsim repair {path.parent}"
            ) from exc
    return records
