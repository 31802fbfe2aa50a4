"""The paired comparison in HTML: the same ``Comparison`` that ``chatsim compare`` prints.

Nothing is recomputed here: the table is ``comparison_text_tables`` (the terminal's), the
verdicts are ``PairComparison.verdict``, and the set-up differences the user allowed are
shown first, above every verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from chatsim.metrics._accuracy import GroupSummary
from chatsim.metrics._comparable import Difference, RunFacts
from chatsim.metrics._compare import Comparison, compare_facts
from chatsim.metrics._summary import RunSummary
from chatsim.metrics._table import TextTable, comparison_text_tables
from chatsim.report import _figures as figs
from chatsim.report._data import ReportData
from chatsim.report._sections import Section, figure_html, html_table

__all__ = [
    "PAIRED_SECTION_ID",
    "comparison_sections",
    "differences_html",
    "paired_section",
    "run_comparison",
]

PAIRED_SECTION_ID = "paired"


def run_comparison(data: ReportData, summary: RunSummary) -> Comparison | None:
    """The models of one run compared pairwise, with the summary's interval settings; None
    with fewer than two models (nothing to pair)."""
    if len(summary.models) < 2:
        return None
    # One run: each model's label is its name, and its figures are the summary's.
    fields = list(GroupSummary.model_fields)
    known = {
        name: (GroupSummary.model_validate(m.model_dump(include=set(fields))), m.latency)
        for name, m in summary.models.items()
    }
    return compare_facts(
        [RunFacts(data.path.name, data.header, data.facts)],
        confidence=summary.confidence,
        resamples=summary.resamples,
        seed=summary.seed,
        interval=summary.interval_method,
        errors_as_incorrect=summary.errors_as_incorrect,
        known=known,
    )


def differences_html(differences: Sequence[Difference]) -> str:
    """The allowed set-up differences, as a warning to read before any verdict."""
    if not differences:
        return ""
    items = "".join(
        f"<li><b>{escape(d.field)}</b>: {escape(d.a)} ({escape(d.a_run)}) vs {escape(d.b)} "
        f"({escape(d.b_run)})</li>"
        for d in differences
    )
    return (
        '<div class="warning differences"><p><b>These runs differ in their set-up</b> '
        "(compared anyway, as asked): the differences below mix the models with these.</p>"
        f"<ul>{items}</ul></div>"
    )


def _table(t: TextTable) -> str:
    if not t.rows:
        return f'<p class="empty">{escape(t.empty)}</p>'
    return html_table(t.headers, t.rows, left=t.left_columns)


def paired_section(comparison: Comparison) -> Section:
    """Differences above the verdicts in words, the paired table, and the interval plot."""
    _, pairs, _ = comparison_text_tables(comparison)
    verdicts = "".join(f"<li>{escape(p.verdict)}</li>" for p in comparison.pairs)
    note = (
        '<p class="notes">Episodes are paired by question and repeat (the same simulator '
        "seed); the interval resamples questions (paired cluster bootstrap), the p-value is a "
        "sign-flip test over questions.</p>"
    )
    body = (
        differences_html(comparison.differences)
        + f'<ul class="verdicts">{verdicts}</ul>'
        + _table(pairs)
        + figure_html(figs.paired_figure(comparison))
        + note
    )
    return Section(PAIRED_SECTION_ID, "Paired comparison", body)


def comparison_sections(comparison: Comparison) -> list[Section]:
    """``chatsim compare --html``: what was compared, then the same tables as the terminal."""
    acc, _, lat = comparison_text_tables(comparison)
    runs = html_table(None, [("runs", ", ".join(comparison.runs)),
                             ("models", ", ".join(comparison.models))], left=2)  # fmt: skip
    return [
        Section("overview", "Compared", differences_html(comparison.differences) + runs),
        paired_section(comparison),
        Section("accuracy", "Accuracy", _table(acc)),
        Section("latency", "Latency side by side", _table(lat)),
    ]
