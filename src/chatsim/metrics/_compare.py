"""Comparing models on the same questions: paired differences and plain-language verdicts.

For every pair of models (across one or several runs), episodes are paired by (question,
repeat): the same question and simulator seed on both sides. Per-question accuracies over the
paired episodes give the mean difference, with a paired cluster-bootstrap interval and p-value
(``_paired``; questions stay the unit). The verdict line says "A beats B" only when the whole
interval is on one side of zero; otherwise it says there is no clear difference. Episodes
without a partner are left out, and the verdict says how many.

Runs are compared only when their set-up is the same (``_comparable``): ``compare`` refuses
runs that differ in simulator, turns, questions, seeds, ... unless ``allow_different`` names
those fields, and then ``Comparison.differences`` lists them, to be shown above the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from chatsim.metrics._accuracy import GroupSummary, IntervalSpec, group_facts, scored_mask
from chatsim.metrics._comparable import (
    AllowDifferent,
    Difference,
    RunFacts,
    check_comparable,
    run_differences,
)
from chatsim.metrics._latency import LatencySummary, latency_facts
from chatsim.metrics._paired import PairedDifference, paired_difference
from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, IntervalMethod, keeping_draws
from chatsim.recording._records import EpisodeRecord, RunHeader

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = ["Comparison", "PairComparison", "RunLike", "compare", "compare_facts", "verdict"]

ALL = "(all)"
#: Below this many shared questions a verdict carries a caution.
FEW_QUESTIONS = 10


class RunLike(Protocol):
    """Anything with a run's path, header and episodes (``chatsim.recording.RunData``)."""

    @property
    def path(self) -> Path: ...
    @property
    def header(self) -> RunHeader: ...
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
    """In words; says how many episodes had no partner when some had none."""
    paired_episodes: int = 0
    """(question, repeat) pairs scored on both sides: the episodes the difference is over."""
    unpaired_a: int = 0
    """Scored episodes of ``a`` with no scored partner in ``b`` (left out)."""
    unpaired_b: int = 0


class Comparison(BaseModel):
    """What ``compare`` returns."""

    model_config = ConfigDict(frozen=True)

    models: list[str]
    """Model labels, disambiguated with the run name where one model is in several runs."""
    accuracy: dict[str, GroupSummary]
    latency: dict[str, LatencySummary]
    pairs: list[PairComparison]
    confidence: float
    runs: list[str] = []
    """The compared runs' names (directory names; ``run1``, ... for episode lists)."""
    differences: list[Difference] = []
    """Set-up differences between the runs that the caller allowed (``allow_different``):
    empty for comparable runs; otherwise to be shown above the verdicts."""


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


def _facts(runs: Sequence[RunLike | Sequence[EpisodeRecord]]) -> list[RunFacts]:
    from chatsim.metrics._facts import facts_table  # lazy: pyarrow

    out: list[RunFacts] = []
    for i, run in enumerate(runs):
        if isinstance(run, Sequence):
            out.append(RunFacts(f"run{i + 1}", None, facts_table(run)))
        else:
            out.append(
                RunFacts(run.path.name, getattr(run, "header", None), facts_table(run.episodes))
            )
    return out


def _model_order(run: RunFacts) -> list[str]:
    """A run's models in its ``--model`` order (the header's), not the order episodes
    happened to finish in; models only the records know come after."""
    configured = getattr(getattr(run.header, "config", None), "models", None) or ()
    seen = run.frame.strings("model")
    return [m for m in configured if m in seen] + [m for m in seen if m not in configured]


def _label_episodes(named: Sequence[RunFacts]) -> dict[str, Frame]:
    counts: dict[str, int] = {}
    for run in named:
        for model in _model_order(run):
            counts[model] = counts.get(model, 0) + 1
    out: dict[str, Frame] = {}
    for run in named:
        for model in _model_order(run):
            label = model if counts[model] == 1 else f"{model} ({run.name})"
            out[label] = run.frame.where(run.frame.equals("model", model))
    return out


def _pair(
    a: str, b: str, by_model: dict[str, Frame], subject: str, spec: IntervalSpec
) -> PairComparison:
    from chatsim.metrics._pairing import paired_question_means  # lazy: pyarrow

    # An episode's partner: same question and repeat (so the same simulator seed).
    def scored(label: str) -> npt.NDArray[np.bool_]:
        frame = by_model[label]
        mask = scored_mask(frame, spec.errors_as_incorrect)
        if subject != ALL:
            mask &= frame.equals("subject", subject)
        return mask

    means_a, means_b, rows_a, rows_b, pairs = paired_question_means(
        by_model[a], scored(a), by_model[b], scored(b)
    )
    d = paired_difference(
        means_a, means_b, confidence=spec.confidence, resamples=spec.resamples, seed=spec.seed
    )
    text = verdict(a, b, d, subject)
    left_a, left_b = rows_a - pairs, rows_b - pairs
    if left_a or left_b:
        text += (
            f" Paired on {pairs} (question, repeat) pairs; left out for want of a "
            f"partner: {left_a} episodes of {a}, {left_b} of {b}."
        )
    return PairComparison(
        a=a, b=b, subject=subject, diff=d, verdict=text, paired_episodes=pairs,
        unpaired_a=left_a, unpaired_b=left_b,
    )  # fmt: skip


def compare_facts(
    runs: Sequence[RunFacts],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    interval: IntervalMethod = "cluster_bootstrap",
    errors_as_incorrect: bool = False,
    allow_different: AllowDifferent = (),
    known: Mapping[str, tuple[GroupSummary, LatencySummary]] | None = None,
) -> Comparison:
    """``compare`` of runs given as facts tables (``RunFacts``: name, header or None, the
    episodes' ``facts_table``), without a record per episode in memory. ``known`` gives a
    model label's accuracy and latency where already computed over the same episodes with
    the same settings (a report's summary), so they are not computed twice."""
    spec = IntervalSpec(interval, confidence, resamples, seed, errors_as_incorrect)
    with keeping_draws():  # the seeded draws are shared by every pair's interval and test
        return _compare(runs, spec, allow_different, known or {})


def _compare(
    runs: Sequence[RunFacts],
    spec: IntervalSpec,
    allow_different: AllowDifferent,
    known: Mapping[str, tuple[GroupSummary, LatencySummary]],
) -> Comparison:
    allowed = check_comparable(run_differences(runs), allow_different)
    by_model = _label_episodes(runs)
    pairs: list[PairComparison] = []
    for a, b in combinations(by_model, 2):
        shared = sorted(set(by_model[a].strings("subject")) & set(by_model[b].strings("subject")))
        pairs.append(_pair(a, b, by_model, ALL, spec))
        if len(shared) > 1:
            pairs += [_pair(a, b, by_model, s, spec) for s in shared]
    return Comparison(
        models=list(by_model),
        accuracy={
            m: known[m][0] if m in known else group_facts(f, spec) for m, f in by_model.items()
        },
        latency={m: known[m][1] if m in known else latency_facts(f) for m, f in by_model.items()},
        pairs=pairs,
        confidence=spec.confidence,
        runs=[r.name for r in runs],
        differences=allowed,
    )


def compare(
    runs: Sequence[RunLike | Sequence[EpisodeRecord]],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    interval: IntervalMethod = "cluster_bootstrap",
    errors_as_incorrect: bool = False,
    allow_different: AllowDifferent = (),
) -> Comparison:
    """Compare every pair of models in ``runs`` (run directories read, or episode lists).

    Runs whose set-up differs (simulator, prompt format, schema, max turns, questions, repeats,
    seeds, assistant prompt and sampling: ``COMPARED_FIELDS``) are refused with an
    ``IncomparableRunsError`` naming each difference, unless ``allow_different`` names the
    fields (or is ``"all"``); the allowed differences are then in ``differences``. Models of
    one run are comparable by construction.

    Pairs are formed in each run's ``--model`` order (then any model only its records name);
    subjects shared by both get their own line after the overall one. It is
    ``compare_facts`` of the runs' facts tables.
    """
    return compare_facts(
        _facts(runs),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        interval=interval,
        errors_as_incorrect=errors_as_incorrect,
        allow_different=allow_different,
    )
