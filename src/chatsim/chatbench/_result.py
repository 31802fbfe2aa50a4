"""The typed result of ``calibrate``: one table per (run model, condition), with its points."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from chatsim.chatbench._agreement import Agreement

__all__ = ["Calibration", "CalibrationResult", "QuestionPoint"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class QuestionPoint(_Frozen):
    """One question: every accuracy known for it (0–1), and how many answers each rests on."""

    question_id: str
    """The chatsim id (``<subject>-test-<row>``)."""
    subject: str
    human: float
    """Human accuracy in the matched condition (user–AI, or user-alone for user-alone runs)."""
    human_answers: int
    simulated: float | None
    """The run's accuracy (episodes that ended in errors left out); None: not in the run."""
    episodes: int
    ai_alone: float | None
    user_alone: float | None
    """Human user-alone accuracy (all workers)."""


class Calibration(_Frozen):
    """The paper's table for one run model and condition."""

    run_model: str
    human_model: str
    condition: str
    """The run's condition (``direct-to-AI`` when the run records none)."""
    ai_alone_source: Literal["run", "release", "none"]
    """Where AI-alone accuracy came from: the run's baseline records, the release, or nowhere."""
    rows: list[Agreement]
    """``simulated``, ``ai-alone``, ``user-alone`` against human accuracy."""
    points: list[QuestionPoint]
    """Every question with human accuracy (after the split), sorted by id."""


class CalibrationResult(_Frozen):
    """``calibrate(run_dir, human)``: every table, and what could not be matched."""

    run_dir: str
    release: str
    """The release folder read."""
    answers_file: str
    split: str | None
    """The split file; only its held-out questions count."""
    heldout: int | None
    """Held-out questions in the split."""
    tables: list[Calibration]
    skipped_models: dict[str, str]
    """Run models left out, and why (no release model, or no episodes)."""
    unmapped_ids: dict[str, str]
    """Release question ids that map onto no bundled question, and why."""
    resamples: int
    seed: int
    confidence: float
