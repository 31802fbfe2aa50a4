"""AI-alone next to user–AI accuracy: ChatBench's headline gap, paired over questions."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from chatsim.baseline._records import BaselineRecord
from chatsim.metrics._accuracy import IntervalSpec, is_scored
from chatsim.metrics._paired import PairedDifference, paired_difference, question_accuracy
from chatsim.recording._records import EpisodeRecord

__all__ = ["GapRow", "baseline_gaps"]

ALL = "(all)"


class GapRow(BaseModel):
    """User–AI minus AI-alone accuracy for one model, subject (or ``(all)``) and mode."""

    model_config = ConfigDict(frozen=True)

    model: str
    subject: str
    mode: str
    ai_alone_records: int
    """AI-alone answers scored (failed calls left out)."""
    gap: PairedDifference
    """``a`` = user–AI, ``b`` = AI-alone, ``diff`` = user–AI − AI-alone, on shared questions."""


def _gap_rows(
    model: str,
    episodes: Sequence[EpisodeRecord],
    records: Sequence[BaselineRecord],
    spec: IntervalSpec,
) -> list[GapRow]:
    rows = []
    subjects = sorted({r.subject for r in records})
    for subject in [ALL, *subjects] if len(subjects) > 1 else [ALL]:
        for mode in sorted({r.mode for r in records}):
            alone = [
                r
                for r in records
                if r.mode == mode and r.error is None and subject in (ALL, r.subject)
            ]
            user = [
                ep
                for ep in episodes
                if is_scored(ep, spec.errors_as_incorrect) and subject in (ALL, ep.subject)
            ]
            gap = paired_difference(
                question_accuracy((ep.question_id, ep.correct) for ep in user),
                question_accuracy((r.question_id, r.correct) for r in alone),
                confidence=spec.confidence,
                resamples=spec.resamples,
                seed=spec.seed,
            )
            rows.append(
                GapRow(
                    model=model, subject=subject, mode=mode, ai_alone_records=len(alone), gap=gap
                )
            )
    return rows


def baseline_gaps(
    episodes: Sequence[EpisodeRecord], records: Sequence[BaselineRecord], spec: IntervalSpec
) -> list[GapRow]:
    """One row per (model, subject incl. ``(all)``, mode) that has AI-alone records."""
    rows: list[GapRow] = []
    for model in dict.fromkeys(r.model for r in records):
        mine = [r for r in records if r.model == model]
        eps = [ep for ep in episodes if ep.model == model]
        rows += _gap_rows(model, eps, mine, spec)
    return rows
