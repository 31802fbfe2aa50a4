"""The accuracy part of a summary as table rows (for terminals and exports)."""

from __future__ import annotations

from dataclasses import dataclass

from chatsim.metrics._accuracy import GroupSummary
from chatsim.metrics._stats import Interval
from chatsim.metrics._summary import RunSummary

__all__ = ["HEADERS", "AccuracyRow", "accuracy_table", "format_interval", "format_pct"]

ALL = "(all)"


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    """One line of the accuracy table. ``subject`` is ``(all)`` for a model's overall line."""

    model: str
    subject: str
    episodes: int
    questions: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    invalid: int
    forced: int
    errors: int
    mean_turns: float | None

    def cells(self) -> list[str]:
        """The row as display strings."""
        iv = format_interval(self.ci_low, self.ci_high)
        turns = "–" if self.mean_turns is None else f"{self.mean_turns:.1f}"
        return [
            self.model,
            self.subject,
            str(self.episodes),
            str(self.questions),
            format_pct(self.accuracy),
            iv,
            str(self.invalid),
            str(self.forced),
            str(self.errors),
            turns,
        ]


HEADERS = ["model", "subject", "episodes", "questions", "accuracy", "95% CI", "invalid",
           "forced", "errors", "mean turns"]  # fmt: skip


def format_pct(value: float | None, digits: int = 1) -> str:
    """0.7234 -> ``72.3%``; None -> ``–``."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def format_interval(low: float | None, high: float | None) -> str:
    """Bounds as percentage points, ``–`` when there is no interval."""
    if low is None or high is None:
        return "–"
    return f"{low * 100:.1f}–{high * 100:.1f}"


def _row(model: str, subject: str, g: GroupSummary) -> AccuracyRow:
    ci: Interval = g.ci
    return AccuracyRow(
        model=model,
        subject=subject,
        episodes=g.episodes,
        questions=g.questions,
        accuracy=g.accuracy,
        ci_low=ci.low,
        ci_high=ci.high,
        invalid=g.invalid,
        forced=g.forced,
        errors=sum(g.errors.values()),
        mean_turns=g.mean_turns,
    )


def accuracy_table(summary: RunSummary) -> list[AccuracyRow]:
    """Rows: per model, its overall line then one per subject (only when it has several)."""
    rows: list[AccuracyRow] = []
    for name, m in summary.models.items():
        rows.append(_row(name, ALL, m))
        if len(m.subjects) > 1:
            rows += [_row(name, s, g) for s, g in m.subjects.items()]
    return rows
