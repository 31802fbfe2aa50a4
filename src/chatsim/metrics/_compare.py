"""Comparing models on the same questions: paired differences and plain-language verdicts.

For every pair of models (across one or several runs), per-question accuracies are paired on
the questions both answered; the mean difference gets a paired cluster-bootstrap interval and
p-value (``_paired``). The verdict line says "A beats B" only when the whole interval is on
one side of zero; otherwise it says there is no clear difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from chatsim.metrics._accuracy import GroupSummary, IntervalSpec, group_summary, is_scored
from chatsim.metrics._latency import LatencySummary, latency_summary
from chatsim.metrics._paired import PairedDifference, paired_difference, question_accuracy
from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, IntervalMethod
from chatsim.recording._records import EpisodeRecord

__all__ = ["Comparison", "PairComparison", "RunLike", "compare", "verdict"]

ALL = "(all)"
#: Below this many shared questions a verdict carries a caution.
FEW_QUESTIONS = 10


class RunLike(Protocol):
    """Anything with a run's episodes and its path (``chatsim.recording.RunData``)."""

    @property
    def path(self) -> Path: ...
    @property
    def episodes(self) -> list[EpisodeRecord]: ...


class PairComparison(BaseModel):
    """``a − b`` for one pair of models on one subject (or ``(all)``)."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    subject: str
    diff: PairedDifference
    verdict: str


class Comparison(BaseModel):
    """What ``compare`` returns."""

    model_config = ConfigDict(frozen=True)

    models: list[str]
    """Model labels, disambiguated with the run name where one model is in several runs."""
    accuracy: dict[str, GroupSummary]
    latency: dict[str, LatencySummary]
    pairs: list[PairComparison]
    confidence: float


def _pts(x: float) -> str:
    return f"{x * 100:.1f}".rstrip("0").rstrip(".").replace("-", "−") or "0"


def _range(low: float, high: float) -> str:
    sep = "–" if low >= 0 else " to "
    return f"{_pts(low)}{sep}{_pts(high)}"


def verdict(a: str, b: str, d: PairedDifference, subject: str = ALL) -> str:
    """A plain-language line that never claims more than the interval supports."""
    where = "" if subject == ALL else f" on {subject}"
    level = f"{round(d.ci.confidence * 100)}% CI"
    if d.questions == 0 or d.diff is None:
        return f"{a} and {b} share no answered questions{where}: no comparison."
    if d.ci.low is None or d.ci.high is None:
        return f"{a} vs {b}{where}: only {d.questions} shared question, too few to compare."
    caution = (
        f" Only {d.questions} questions: treat with caution." if d.questions < FEW_QUESTIONS else ""
    )
    p = "" if d.p_value is None else f", p={d.p_value:.2g}"
    n = f"{d.questions} questions"
    # A winner needs both: an interval clear of 0 and a test that rejects "no difference".
    significant = d.p_value is None or d.p_value <= 1.0 - d.ci.confidence
    if d.ci.low > 0 and significant:
        text = (
            f"{a} beats {b}{where} by {_pts(d.diff)} points, {level} {_range(d.ci.low, d.ci.high)}"
        )
        return f"{text} ({n}{p}).{caution}"
    if d.ci.high < 0 and significant:
        text = f"{b} beats {a}{where} by {_pts(-d.diff)} points, {level} "
        return f"{text}{_range(-d.ci.high, -d.ci.low)} ({n}{p}).{caution}"
    return (
        f"No clear difference between {a} and {b}{where}: {a} − {b} = {_pts(d.diff)} points, "
        f"{level} {_range(d.ci.low, d.ci.high)} ({n}{p}).{caution}"
    )


def _label_episodes(
    runs: Sequence[RunLike | Sequence[EpisodeRecord]],
) -> dict[str, list[EpisodeRecord]]:
    named: list[tuple[str, list[EpisodeRecord]]] = []
    for i, run in enumerate(runs):
        if isinstance(run, Sequence):
            named.append((f"run{i + 1}", list(run)))
        else:
            named.append((run.path.name, run.episodes))
    counts: dict[str, int] = {}
    for _, eps in named:
        for model in dict.fromkeys(ep.model for ep in eps):
            counts[model] = counts.get(model, 0) + 1
    out: dict[str, list[EpisodeRecord]] = {}
    for run_name, eps in named:
        for ep in eps:
            label = ep.model if counts[ep.model] == 1 else f"{ep.model} ({run_name})"
            out.setdefault(label, []).append(ep)
    return out


def _pair(
    a: str, b: str, by_model: dict[str, list[EpisodeRecord]], subject: str, spec: IntervalSpec
) -> PairComparison:
    def table(label: str) -> dict[str, float]:
        eps = [
            ep
            for ep in by_model[label]
            if is_scored(ep, spec.errors_as_incorrect) and subject in (ALL, ep.subject)
        ]
        return question_accuracy((ep.question_id, ep.correct) for ep in eps)

    d = paired_difference(
        table(a), table(b), confidence=spec.confidence, resamples=spec.resamples, seed=spec.seed
    )
    return PairComparison(a=a, b=b, subject=subject, diff=d, verdict=verdict(a, b, d, subject))


def compare(
    runs: Sequence[RunLike | Sequence[EpisodeRecord]],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    interval: IntervalMethod = "cluster_bootstrap",
    errors_as_incorrect: bool = False,
) -> Comparison:
    """Compare every pair of models in ``runs`` (run directories read, or episode lists).

    Pairs are formed in the order models first appear; subjects shared by both get their own
    line after the overall one.
    """
    spec = IntervalSpec(interval, confidence, resamples, seed, errors_as_incorrect)
    by_model = _label_episodes(runs)
    pairs: list[PairComparison] = []
    for a, b in combinations(by_model, 2):
        subjects_a = {ep.subject for ep in by_model[a]}
        shared = sorted(subjects_a & {ep.subject for ep in by_model[b]})
        pairs.append(_pair(a, b, by_model, ALL, spec))
        if len(shared) > 1:
            pairs += [_pair(a, b, by_model, s, spec) for s in shared]
    return Comparison(
        models=list(by_model),
        accuracy={m: group_summary(eps, spec) for m, eps in by_model.items()},
        latency={m: latency_summary(eps) for m, eps in by_model.items()},
        pairs=pairs,
        confidence=confidence,
    )
