"""``summarize``: a run's records in, the figures people read out. Pure; recomputable offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from chatsim.baseline._records import BaselineRecord
from chatsim.config import DEFAULT_MAX_ERROR_SHARE
from chatsim.metrics._accuracy import GroupSummary, IntervalSpec, group_facts
from chatsim.metrics._behaviour import BehaviourSummary, behaviour_facts
from chatsim.metrics._conditions import ConditionSummary, condition_facts, condition_notes
from chatsim.metrics._cost import (
    CostSummary,
    PriceTable,
    RunCost,
    cost_facts,
    load_prices,
    run_cost,
    simulator_cost_facts,
)
from chatsim.metrics._failure import RunFailure, failure_facts
from chatsim.metrics._gap import GapRow, baseline_gap_facts
from chatsim.metrics._latency import LatencySummary, latency_facts
from chatsim.metrics._questions import ConsistencySummary, QuestionRow
from chatsim.metrics._recovery import RecoverySummary, recovery_facts
from chatsim.metrics._simulator import SimulatorSummary, simulator_facts
from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, IntervalMethod, keeping_draws
from chatsim.recording._records import EpisodeRecord, SimulatorChoice

if TYPE_CHECKING:
    import pyarrow as pa

    from chatsim.metrics._frame import Frame
    from chatsim.metrics._question_facts import QuestionFacts

__all__ = ["SUMMARY_VERSION", "ModelSummary", "RunSummary", "summarize", "summarize_facts"]

#: Version of the summary JSON layout. 2: ``failure``, ``simulator_choice``, ``simulators``,
#: ``cost`` (run totals) and ``ModelSummary.simulator_cost``. 3: ``conditions`` (ChatBench's
#: study conditions, with answer-first's initial vs final accuracy and switches).
SUMMARY_VERSION = 3


class ModelSummary(GroupSummary):
    """One model's figures, overall and per subject."""

    model: str
    subjects: dict[str, GroupSummary]
    consistency: ConsistencySummary
    behaviour: BehaviourSummary
    latency: LatencySummary
    recovery: RecoverySummary
    cost: CostSummary
    """The target's tokens and estimated cost."""
    simulator_cost: CostSummary
    """The simulator's tokens and estimated cost in this model's episodes."""
    simulator: SimulatorSummary


class RunSummary(BaseModel):
    """Everything ``chatsim report`` shows, as JSON-serialisable data."""

    model_config = ConfigDict(frozen=True)

    summary_version: int = SUMMARY_VERSION
    failure: RunFailure | None
    """Set when the run failed (too many episodes ended in errors): read it first."""
    simulator_choice: SimulatorChoice | None
    """Which simulator played the user and why (from the run's header; None for old runs)."""
    simulators: list[str]
    """The simulator specs found in the episodes."""
    cost: RunCost
    """Estimated cost of the run: the targets', the simulator's, and the total."""
    interval_method: IntervalMethod
    """How every ``ci`` was computed (``cluster_bootstrap`` over questions, or ``se``)."""
    confidence: float
    resamples: int
    """Bootstrap resamples (unused by ``se``)."""
    seed: int
    """Bootstrap seed: the same records always give the same intervals."""
    errors_as_incorrect: bool
    """Whether error terminations were scored as incorrect (default: left out of accuracy)."""
    overall: GroupSummary
    """All models pooled."""
    models: dict[str, ModelSummary]
    """Per model (its label), in run order."""
    subjects: dict[str, GroupSummary]
    """Per subject, all models pooled."""
    questions: list[QuestionRow]
    """Per (model, question): the table to compare with human data."""
    baseline: list[GapRow]
    """AI-alone vs user–AI per model, subject and mode (empty without a baseline)."""
    price_source: str
    """Date and source of the price table used for cost estimates."""
    notes: list[str]
    """Caveats worth reading next to the numbers."""
    conditions: dict[str, ConditionSummary] = Field(default_factory=dict)
    """Per study condition (``chatsim.metrics._conditions``), when the episodes hold more
    than one or one other than ``direct-to-AI``; empty otherwise."""


def _model_summary(
    model: str, frame: Frame, rows: QuestionFacts, spec: IntervalSpec, prices: PriceTable
) -> ModelSummary:
    base = group_facts(frame, spec)
    subjects = {s: group_facts(f, spec) for s, f in frame.groups("subject", sort=True).items()}
    return ModelSummary(
        model=model,
        subjects=subjects,
        consistency=rows.consistency(model),
        behaviour=behaviour_facts(frame),
        latency=latency_facts(frame),
        recovery=recovery_facts(frame),
        cost=cost_facts(model, frame, prices),
        simulator_cost=simulator_cost_facts(frame, prices),
        simulator=simulator_facts(frame),
        **base.model_dump(),
    )


def _price_source(prices: PriceTable) -> str:
    source = f" ({prices.source})" if prices.source else ""
    return f"price table of {prices.date}{source}, {prices.currency} {prices.unit}"


def _notes(summary_models: dict[str, ModelSummary], spec: IntervalSpec) -> list[str]:
    notes = []
    if spec.method == "cluster_bootstrap":
        notes.append(
            f"{round(spec.confidence * 100)}% intervals: cluster bootstrap over questions "
            f"({spec.resamples} resamples, seed {spec.seed}); repeats of a question move together."
        )
    else:
        notes.append(
            f"{round(spec.confidence * 100)}% intervals: mean ± t × standard error over "
            "per-question accuracies (ChatBench's method), clipped to [0, 1]."
        )
    for name, m in summary_models.items():
        if m.episodes == 0:
            notes.append(f"{name}: no episodes recorded.")
        elif m.scored == 0:
            notes.append(f"{name}: no episode reached an answer; accuracy is undefined.")
        if m.ci.note and m.episodes:
            notes.append(f"{name}: {m.ci.note}.")
    return notes


def summarize_facts(
    table: pa.Table,
    *,
    models: Sequence[str] | None = None,
    interval: IntervalMethod = "cluster_bootstrap",
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    errors_as_incorrect: bool = False,
    prices: PriceTable | None = None,
    baseline: Sequence[BaselineRecord] = (),
    simulator_choice: SimulatorChoice | None = None,
    max_error_share: float = DEFAULT_MAX_ERROR_SHARE,
) -> RunSummary:
    """``summarize`` of a run's facts table (``chatsim.metrics.facts_table``; one row per
    episode, in recorded order), without a record per episode in memory. The arguments are
    ``summarize``'s; the question stems were applied when the facts were built."""
    from chatsim.metrics._frame import Frame  # lazy: pyarrow

    spec = IntervalSpec(interval, confidence, resamples, seed, errors_as_incorrect)
    with keeping_draws():  # the seeded draws are shared by every interval of the summary
        return _summarize(
            Frame(table),
            models,
            spec,
            prices or load_prices(),
            baseline,
            simulator_choice,
            max_error_share,
        )


def _summarize(
    frame: Frame,
    models: Sequence[str] | None,
    spec: IntervalSpec,
    prices: PriceTable,
    baseline: Sequence[BaselineRecord],
    simulator_choice: SimulatorChoice | None,
    max_error_share: float,
) -> RunSummary:
    from chatsim.metrics._question_facts import question_facts

    found = frame.groups("model")
    per_model = {m: found.get(m, frame.subset(frame.rows[:0])) for m in [*(models or []), *found]}
    rows = question_facts(frame, errors_as_incorrect=spec.errors_as_incorrect)
    model_summaries = {m: _model_summary(m, f, rows, spec, prices) for m, f in per_model.items()}
    conditions = condition_facts(frame, list(per_model), spec)
    return RunSummary(
        failure=failure_facts(per_model, max_error_share),
        simulator_choice=simulator_choice,
        simulators=frame.strings("simulator"),
        cost=run_cost(
            [m.cost for m in model_summaries.values()],
            [m.simulator_cost for m in model_summaries.values()],
            prices,
        ),
        interval_method=spec.method,
        confidence=spec.confidence,
        resamples=spec.resamples,
        seed=spec.seed,
        errors_as_incorrect=spec.errors_as_incorrect,
        overall=group_facts(frame, spec),
        models=model_summaries,
        subjects={s: group_facts(f, spec) for s, f in frame.groups("subject", sort=True).items()},
        questions=rows.rows,
        baseline=baseline_gap_facts(frame, baseline, spec),
        price_source=_price_source(prices),
        notes=_notes(model_summaries, spec) + condition_notes(conditions),
        conditions=conditions,
    )


def summarize(
    episodes: Sequence[EpisodeRecord],
    *,
    models: Sequence[str] | None = None,
    interval: IntervalMethod = "cluster_bootstrap",
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    errors_as_incorrect: bool = False,
    stems: Mapping[str, str] | None = None,
    prices: PriceTable | None = None,
    baseline: Sequence[BaselineRecord] = (),
    simulator_choice: SimulatorChoice | None = None,
    max_error_share: float = DEFAULT_MAX_ERROR_SHARE,
) -> RunSummary:
    """Summarise a run's episodes: per model, per (model, subject), per subject and overall.

    ``models`` lists the run's models in order, so that one with no episodes still appears
    (with zero counts and no accuracy). Intervals treat questions as the unit; see
    ``chatsim.metrics._stats`` for both methods and why the cluster bootstrap is the default.
    ``stems`` (question id -> question text) enables the copied-question figure; ``prices``
    defaults to the bundled dated table; ``baseline`` adds AI-alone vs user–AI gaps.
    ``simulator_choice`` (the header's) is carried into the summary; ``max_error_share``
    decides ``failure`` (see ``chatsim.metrics._failure``). It is ``summarize_facts`` of the
    episodes' facts table.
    """
    from chatsim.metrics._facts import facts_table  # lazy: pyarrow

    return summarize_facts(
        facts_table(episodes, stems),
        models=models,
        interval=interval,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        errors_as_incorrect=errors_as_incorrect,
        prices=prices,
        baseline=baseline,
        simulator_choice=simulator_choice,
        max_error_share=max_error_share,
    )
