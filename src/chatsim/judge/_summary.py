"""Mean judge scores per model and judge, with question-clustered intervals.

Repeats of one question are not independent (as for accuracy), so scores are averaged per
question first and the interval is a bootstrap over questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatsim.metrics._stats import Interval, cluster_bootstrap_interval
from chatsim.recording import JudgeRecord

__all__ = ["JudgeSummary", "judge_summary"]


class JudgeSummary(BaseModel):
    """Mean judge scores of one model, with question-clustered intervals."""

    model_config = ConfigDict(frozen=True)

    model: str
    judge: str
    scored: int
    failed: int
    coherence: float | None
    coherence_ci: Interval
    satisfaction: float | None
    satisfaction_ci: Interval


def _mean_ci(records: Sequence[JudgeRecord], field: str) -> tuple[float | None, Interval]:
    per_q: dict[str, list[int]] = {}
    for r in records:
        per_q.setdefault(r.question_id, []).append(getattr(r, field))
    values = np.array([np.mean(v) for v in per_q.values()], dtype=np.float64)
    return (float(values.mean()) if len(values) else None), cluster_bootstrap_interval(values)


def judge_summary(records: Sequence[JudgeRecord]) -> list[JudgeSummary]:
    """Per (model, judge): mean scores over questions, cluster-bootstrap intervals."""
    out = []
    for key in dict.fromkeys((r.model, r.judge) for r in records):
        mine = [r for r in records if (r.model, r.judge) == key]
        ok = [r for r in mine if r.error is None]
        coherence, coherence_ci = _mean_ci(ok, "coherence")
        satisfaction, satisfaction_ci = _mean_ci(ok, "satisfaction")
        out.append(
            JudgeSummary(model=key[0], judge=key[1], scored=len(ok), failed=len(mine) - len(ok),
                         coherence=coherence, coherence_ci=coherence_ci,
                         satisfaction=satisfaction, satisfaction_ci=satisfaction_ci)
        )  # fmt: skip
    return out
