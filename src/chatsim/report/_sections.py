"""Report sections, and the hook other features use to add their own.

A section renderer takes the report's data and summary and returns sections (possibly none).
``register_section`` adds one; the load test (issue 6) can register a richer renderer for its
``load_summary.json``. Until then the built-in one renders any ``load_summary.json``
generically: its scalar figures as a table, and every list of records that has a time column
(``t``, ``time``, ``elapsed_s``, ...) as lines over time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from chatsim.metrics._summary import RunSummary
from chatsim.report._data import ReportData
from chatsim.report._judge import RUBRIC, RUBRIC_VERSION, JudgeRecord, judge_summary

__all__ = [
    "Section",
    "SectionRenderer",
    "figure_html",
    "html_table",
    "judge_rows",
    "judge_sections",
    "load_summary_sections",
    "register_section",
    "section_renderers",
]


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the HTML report. ``html`` is trusted markup: escape what goes into it."""

    id: str
    title: str
    html: str


SectionRenderer = Callable[[ReportData, RunSummary], Sequence[Section]]
_RENDERERS: list[SectionRenderer] = []


def register_section(renderer: SectionRenderer) -> SectionRenderer:
    """Add a section renderer (usable as a decorator); rendered after the built-in sections."""
    if renderer not in _RENDERERS:
        _RENDERERS.append(renderer)
    return renderer


def section_renderers() -> list[SectionRenderer]:
    return list(_RENDERERS)


def html_table(
    headers: Sequence[str] | None,
    rows: Sequence[Sequence[Any]],
    caption: str = "",
    *,
    left: int = 1,
) -> str:
    """An HTML table; every cell is escaped. The first ``left`` columns are left-aligned
    labels; ``headers=None`` gives a key/value table without a header row."""

    def cells(row: Sequence[Any], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=l' if i < left else ''}>{escape(str(c))}</{tag}>"
            for i, c in enumerate(row)
        )

    head = "" if headers is None else f"<thead><tr>{cells(headers, 'th')}</tr></thead>"
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<table class="data">{cap}{head}<tbody>{body}</tbody></table>'


def figure_html(fig: Any) -> str:
    """A plotly figure as a div; the plotly library is inlined once in the page head."""
    if fig is None:
        return ""
    import plotly.io as pio

    html: str = pio.to_html(
        fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False}
    )
    return f'<div class="figure">{html}</div>'


_TIME_KEYS = ("t", "time", "elapsed", "elapsed_s", "second", "seconds", "timestamp", "start")


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{name}.")
        elif not isinstance(value, list):
            yield name, value


def _series(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _series(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield f"{prefix}{key}", value


def _series_figure(name: str, rows: list[dict[str, Any]]) -> Any:
    time_key = next((k for k in _TIME_KEYS if k in rows[0]), None)
    if time_key is None:
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    for column in rows[0]:
        values = [r.get(column) for r in rows]
        if column == time_key or not all(isinstance(v, int | float) for v in values):
            continue
        fig.add_trace(go.Scatter(x=[r[time_key] for r in rows], y=values, name=column))
    fig.update_layout(template="plotly_white", height=360, title=name, xaxis_title=time_key)
    return fig


def load_summary_sections(data: ReportData, summary: RunSummary) -> Sequence[Section]:
    """``load_summary.json``: the load test's own sections (stages, saturation, plots) for a
    ``chatsim loadtest`` run; a generic rendering of any other load summary."""
    if data.load_summary is None:
        return []
    if "stages" in data.load_summary and "saturation" in data.load_summary:
        from chatsim.loadtest import load_test_sections

        return list(load_test_sections(data, summary))
    scalars = list(_flatten(data.load_summary))
    parts = [html_table(None, scalars)] if scalars else []
    parts += [figure_html(_series_figure(n, rows)) for n, rows in _series(data.load_summary)]
    return [Section("load", "Load test", "".join(parts))]


def _score(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "–"
    ci = "" if low is None or high is None else f" ({low:.2f}–{high:.2f})"
    return f"{value:.2f}{ci}"


def judge_rows(records: Sequence[JudgeRecord]) -> tuple[list[str], list[list[str]]]:
    """The judge-score table: headers and rows."""
    headers = ["model", "judge", "scored", "failed", "coherence (95% CI)",
               "satisfaction (95% CI)"]  # fmt: skip
    rows = [
        [s.model, s.judge, str(s.scored), str(s.failed),
         _score(s.coherence, s.coherence_ci.low, s.coherence_ci.high),
         _score(s.satisfaction, s.satisfaction_ci.low, s.satisfaction_ci.high)]
        for s in judge_summary(records)
    ]  # fmt: skip
    return headers, rows


def judge_sections(data: ReportData, summary: RunSummary) -> Sequence[Section]:
    """Judge scores, when the run has them: on their own, never mixed into accuracy."""
    if not data.judge:
        return []
    headers, rows = judge_rows(data.judge)
    note = (
        '<p class="notes">Scores 1–5 from an LLM judge with the rubric below '
        f"({escape(RUBRIC_VERSION)}); they are not part of accuracy.</p>"
    )
    rubric = f"<details><summary>Rubric</summary><pre>{escape(RUBRIC)}</pre></details>"
    return [Section("judge", "Judge scores", note + html_table(headers, rows, left=2) + rubric)]


register_section(load_summary_sections)
register_section(judge_sections)
