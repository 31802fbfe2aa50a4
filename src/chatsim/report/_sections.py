"""Report sections, and the registry other features fill with their own.

A section renderer takes the report's data and summary and returns sections (possibly none).
The report owns the registry and never imports the features that fill it, so dependencies run
one way (``chatsim.loadtest`` -> ``chatsim.report``, never back). Renderers come from:

- ``register_section(renderer)``, called by code that has the report imported;
- the entry-point group ``chatsim.report_sections`` (each entry point names a renderer),
  loaded lazily, once, by ``section_renderers()``: the report then has the load test's
  sections (``chatsim.loadtest._report:load_test_sections``) even when a script imported
  only ``chatsim.report``. A plugin that fails to load is skipped with a ``RuntimeWarning``
  naming its entry point: one broken plugin must not cost the whole report, nor go unseen.

Order: the built-in judge scores, then plugins (by entry-point name), then the generic
``load_summary.json`` rendering, then ``register_section`` renderers in the order registered.
The generic rendering is the fallback for a ``load_summary.json`` that no renderer claims: it
renders only when no other renderer gave a section with id ``"load"`` (``LOAD_SECTION_ID``):
its scalar figures as a table, and every list of records that has a time column (``t``,
``time``, ``elapsed_s``, ...) as lines over time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from importlib.metadata import entry_points
from typing import Any

from chatsim.judge import RUBRIC, RUBRIC_VERSION, judge_summary
from chatsim.metrics._summary import RunSummary
from chatsim.recording import JudgeRecord
from chatsim.report._data import ReportData

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_SECTION_ID",
    "Section",
    "SectionRenderer",
    "figure_html",
    "html_table",
    "judge_rows",
    "judge_sections",
    "load_summary_sections",
    "register_section",
    "render_sections",
    "section_renderers",
]

#: Entry-point group whose entry points name section renderers (``module:function``).
ENTRY_POINT_GROUP = "chatsim.report_sections"
#: The id of the load-test section; a renderer that gives one replaces the generic rendering.
LOAD_SECTION_ID = "load"


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the HTML report. ``html`` is trusted markup: escape what goes into it."""

    id: str
    title: str
    html: str


SectionRenderer = Callable[[ReportData, RunSummary], Sequence[Section]]
_RENDERERS: list[SectionRenderer] = []  # register_section's, in order
_PLUGINS: list[SectionRenderer] | None = None  # from the entry points, on first use


def register_section(renderer: SectionRenderer) -> SectionRenderer:
    """Add a section renderer (usable as a decorator); rendered after the built-in sections."""
    if renderer not in _RENDERERS:
        _RENDERERS.append(renderer)
    return renderer


def _load_plugins() -> list[SectionRenderer]:
    found: list[SectionRenderer] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            renderer = ep.load()
        except Exception as exc:  # a plugin's import can fail in any way; see the module doc
            problem = f"failed to load: {type(exc).__name__}: {exc}"
        else:
            if callable(renderer):
                found.append(renderer)
                continue
            problem = f"is not callable: {renderer!r}"
        warnings.warn(
            f"report section plugin {ep.name!r} = {ep.value!r} (entry-point group "
            f"{ENTRY_POINT_GROUP!r}) {problem}; the report is rendered without it",
            RuntimeWarning,
            stacklevel=2,
        )
    return found


def section_renderers() -> list[SectionRenderer]:
    """Every renderer in report order (see the module doc); loads the plugins on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = _load_plugins()
    ordered: list[SectionRenderer] = []
    for renderer in [*_BUILTIN, *_PLUGINS, load_summary_sections, *_RENDERERS]:
        if renderer not in ordered:  # a plugin also registered by hand renders once
            ordered.append(renderer)
    return ordered


def render_sections(data: ReportData, summary: RunSummary) -> list[Section]:
    """The sections of every renderer, in order, the generic load summary only as a fallback."""
    renderers = section_renderers()
    # The fallback runs last so that it knows whether another renderer claimed "load".
    made = [None if r is load_summary_sections else list(r(data, summary)) for r in renderers]
    if not any(s.id == LOAD_SECTION_ID for sections in made if sections for s in sections):
        made = [list(load_summary_sections(data, summary)) if m is None else m for m in made]
    return [s for sections in made if sections for s in sections]


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
    """``load_summary.json`` rendered generically: the fallback when no renderer (such as the
    load test's own) gave a ``"load"`` section; see ``render_sections``."""
    if data.load_summary is None:
        return []
    scalars = list(_flatten(data.load_summary))
    parts = [html_table(None, scalars)] if scalars else []
    parts += [figure_html(_series_figure(n, rows)) for n, rows in _series(data.load_summary)]
    return [Section(LOAD_SECTION_ID, "Load test", "".join(parts))]


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


# Built in, and so not in _RENDERERS: a test or caller resetting that list keeps them.
_BUILTIN: tuple[SectionRenderer, ...] = (judge_sections,)
