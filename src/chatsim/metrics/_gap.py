"""AI-alone next to user–AI accuracy: ChatBench's headline gap, paired over questions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from chatsim.baseline._records import BaselineRecord
from chatsim.metrics._accuracy import IntervalSpec, question_rates, scored_mask
from chatsim.metrics._paired import PairedDifference, paired_difference, question_accuracy
from chatsim.recording._records import EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = ["GapRow", "baseline_gap_facts", "baseline_gaps"]

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


def _user_accuracy(frame: Frame, subject: str, spec: IntervalSpec) -> dict[str, float]:
    """Question id -> user–AI accuracy over the scored episodes (of ``subject`` unless ALL)."""
    mask = scored_mask(frame, spec.errors_as_incorrect)
    if subject != ALL:
        mask &= frame.equals("subject", subject)
    codes, labels = frame.codes("question_id")
    found, n, k = question_rates(codes[mask], frame.values("correct")[mask])
    return {
        labels[q]: kq / nq for q, nq, kq in zip(found.tolist(), n.tolist(), k.tolist(), strict=True)
    }


def _gap_rows(
    model: str, frame: Frame, records: Sequence[BaselineRecord], spec: IntervalSpec
) -> list[GapRow]:
    rows = []
    subjects = sorted({r.subject for r in records})
    for subject in [ALL, *subjects] if len(subjects) > 1 else [ALL]:
        user = _user_accuracy(frame, subject, spec)
        for mode in sorted({r.mode for r in records}):
            alone = [
                r
                for r in records
                if r.mode == mode and r.error is None and subject in (ALL, r.subject)
            ]
            gap = paired_difference(
                user,
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


def baseline_gap_facts(
    frame: Frame, records: Sequence[BaselineRecord], spec: IntervalSpec
) -> list[GapRow]:
    """One row per (model, subject incl. ``(all)``, mode) that has AI-alone records."""
    rows: list[GapRow] = []
    for model in dict.fromkeys(r.model for r in records):
        mine = [r for r in records if r.model == model]
        rows += _gap_rows(model, frame.where(frame.equals("model", model)), mine, spec)
    return rows


def baseline_gaps(
    episodes: Sequence[EpisodeRecord], records: Sequence[BaselineRecord], spec: IntervalSpec
) -> list[GapRow]:
    """``baseline_gap_facts`` of the episodes' facts."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return baseline_gap_facts(frame_of(episodes), records, spec)
