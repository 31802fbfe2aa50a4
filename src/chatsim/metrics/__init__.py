"""Metrics: pure functions over a run's records.

``summarize(episodes)`` recomputes every figure from ``EpisodeRecord``s (accuracy with
question-clustered intervals, per-question table, pass^k, behaviour, latency, recovery, cost,
AI-alone gap, the simulator's tokens and cost beside the target's, and whether the run
failed), so ``chatsim report`` needs nothing but the run directory. ``compare(runs)``
pairs models on shared (question, repeat) episodes, and refuses runs whose set-up differs
(``run_differences``, ``check_comparable``) unless told which differences to allow.

At scale both read a columnar facts table instead of records: ``facts_table(records)`` (one
row of ``FACTS_SCHEMA`` per episode, versioned by ``FACTS_VERSION``), then
``summarize_facts(table)`` and ``compare_facts([RunFacts(name, header, table), ...])``; the
record-based functions are those of the records' facts. The facts names load pyarrow, so they
are imported on first use.
"""

from typing import TYPE_CHECKING, Any

from chatsim.metrics._accuracy import GroupSummary, IntervalSpec
from chatsim.metrics._answers import COPY_THRESHOLD, copies_question
from chatsim.metrics._behaviour import BehaviourSummary, EpisodeBehaviour, episode_behaviour
from chatsim.metrics._comparable import (
    COMPARED_FIELDS,
    Difference,
    IncomparableRunsError,
    RunFacts,
    check_comparable,
    run_differences,
)
from chatsim.metrics._compare import Comparison, PairComparison, compare, compare_facts, verdict
from chatsim.metrics._conditions import (
    AnswerFirstSummary,
    ConditionModelSummary,
    ConditionSummary,
    answer_first_summary,
)
from chatsim.metrics._cost import (
    CostSummary,
    CostTotal,
    ModelPrice,
    PriceTable,
    RunCost,
    load_prices,
    simulator_model,
)
from chatsim.metrics._facts_sidecar import FACTS_SIDECAR, facts_sidecar, stems_lookup
from chatsim.metrics._failure import ErrorKind, RunFailure, error_kind, run_failure
from chatsim.metrics._gap import GapRow
from chatsim.metrics._latency import (
    CallTiming,
    EpisodeTiming,
    LatencySummary,
    Percentiles,
    call_timings,
    episode_timing,
    is_answered,
    percentiles,
)
from chatsim.metrics._paired import PairedDifference, paired_difference
from chatsim.metrics._questions import ConsistencySummary, QuestionRow, pass_hat_k, question_table
from chatsim.metrics._recovery import RecoverySummary
from chatsim.metrics._render import render_comparison, render_summary
from chatsim.metrics._simulator import SimulatorSummary, simulator_summary
from chatsim.metrics._stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    IntervalMethod,
    cluster_bootstrap_interval,
    paired_bootstrap,
    se_interval,
)
from chatsim.metrics._summary import (
    SUMMARY_VERSION,
    ModelSummary,
    RunSummary,
    summarize,
    summarize_facts,
)
from chatsim.metrics._table import AccuracyRow, accuracy_table

# Kept public here too (it was a metrics name first); it lives in the protocol.
from chatsim.protocol import stated_answer

if TYPE_CHECKING:
    from chatsim.metrics._facts import FACTS_SCHEMA, FACTS_VERSION, episode_facts, facts_table

_LAZY = frozenset({"FACTS_SCHEMA", "FACTS_VERSION", "episode_facts", "facts_table"})


def __getattr__(name: str) -> Any:
    # The facts table is pyarrow's: load it when asked for, not with ``chatsim.metrics``.
    if name in _LAZY:
        from chatsim.metrics import _facts

        return getattr(_facts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COMPARED_FIELDS",
    "COPY_THRESHOLD",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "FACTS_SCHEMA",
    "FACTS_SIDECAR",
    "FACTS_VERSION",
    "SUMMARY_VERSION",
    "AccuracyRow",
    "AnswerFirstSummary",
    "BehaviourSummary",
    "CallTiming",
    "Comparison",
    "ConditionModelSummary",
    "ConditionSummary",
    "ConsistencySummary",
    "CostSummary",
    "CostTotal",
    "Difference",
    "EpisodeBehaviour",
    "EpisodeTiming",
    "ErrorKind",
    "GapRow",
    "GroupSummary",
    "IncomparableRunsError",
    "Interval",
    "IntervalMethod",
    "IntervalSpec",
    "LatencySummary",
    "ModelPrice",
    "ModelSummary",
    "PairComparison",
    "PairedDifference",
    "Percentiles",
    "PriceTable",
    "QuestionRow",
    "RecoverySummary",
    "RunCost",
    "RunFacts",
    "RunFailure",
    "RunSummary",
    "SimulatorSummary",
    "accuracy_table",
    "answer_first_summary",
    "call_timings",
    "check_comparable",
    "cluster_bootstrap_interval",
    "compare",
    "compare_facts",
    "copies_question",
    "episode_behaviour",
    "episode_facts",
    "episode_timing",
    "error_kind",
    "facts_sidecar",
    "facts_table",
    "is_answered",
    "load_prices",
    "paired_bootstrap",
    "paired_difference",
    "pass_hat_k",
    "percentiles",
    "question_table",
    "render_comparison",
    "render_summary",
    "run_differences",
    "run_failure",
    "se_interval",
    "simulator_model",
    "simulator_summary",
    "stated_answer",
    "stems_lookup",
    "summarize",
    "summarize_facts",
    "verdict",
]
