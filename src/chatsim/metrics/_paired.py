"""Paired, question-clustered differences: the engine of ``compare`` and the AI-alone gap.

Two per-question accuracy tables (question id -> accuracy) are paired on the questions they
share; the difference is averaged over those questions and its interval and p-value come from
resampling the shared questions together (``_stats.paired_bootstrap``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, paired_bootstrap

__all__ = ["PairedDifference", "paired_difference", "question_accuracy"]


class PairedDifference(BaseModel):
    """``a − b`` over the questions both sides answered."""

    model_config = ConfigDict(frozen=True)

    questions: int
    """Questions shared by both sides (the unit of the interval)."""
    a: float | None
    """Side a's accuracy on the shared questions."""
    b: float | None
    diff: float | None
    """a − b (accuracy points as a fraction: 0.07 = 7 points)."""
    ci: Interval
    p_value: float | None
    """Two-sided paired-bootstrap p-value for "no difference"."""


def question_accuracy(pairs: Iterable[tuple[str, bool]]) -> dict[str, float]:
    """(question id, correct) pairs -> question id -> accuracy."""
    n: dict[str, int] = {}
    k: dict[str, int] = {}
    for qid, correct in pairs:
        n[qid] = n.get(qid, 0) + 1
        k[qid] = k.get(qid, 0) + int(correct)
    return {q: k[q] / n[q] for q in n}


def paired_difference(
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedDifference:
    """Mean paired difference of two per-question accuracy tables, with its interval."""
    shared = sorted(set(a) & set(b))
    va = np.array([a[q] for q in shared], dtype=np.float64)
    vb = np.array([b[q] for q in shared], dtype=np.float64)
    ci, p = paired_bootstrap(va - vb, confidence=confidence, resamples=resamples, seed=seed)
    return PairedDifference(
        questions=len(shared),
        a=float(va.mean()) if shared else None,
        b=float(vb.mean()) if shared else None,
        diff=float((va - vb).mean()) if shared else None,
        ci=ci,
        p_value=p,
    )
