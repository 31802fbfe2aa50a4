"""Metrics: pure functions over a run's records (accuracy with honest intervals, and more).

``summarize(episodes)`` recomputes everything from ``EpisodeRecord``s, so ``chatsim report``
needs nothing but the run directory.
"""

from chatsim.metrics._accuracy import GroupSummary, IntervalSpec
from chatsim.metrics._stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    IntervalMethod,
    cluster_bootstrap_interval,
    paired_bootstrap,
    se_interval,
)
from chatsim.metrics._summary import SUMMARY_VERSION, ModelSummary, RunSummary, summarize
from chatsim.metrics._table import AccuracyRow, accuracy_table, render_summary

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "SUMMARY_VERSION",
    "AccuracyRow",
    "GroupSummary",
    "Interval",
    "IntervalMethod",
    "IntervalSpec",
    "ModelSummary",
    "RunSummary",
    "accuracy_table",
    "cluster_bootstrap_interval",
    "paired_bootstrap",
    "render_summary",
    "se_interval",
    "summarize",
]
