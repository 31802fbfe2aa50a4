"""``chatsim report RUN_DIR --html FILE``: one self-contained HTML file that opens offline.

The plotly library is inlined once in the page head (no CDN), figures follow as divs, and
every recorded string is HTML-escaped. The first section says what to know before any figure:
a failed run's verdict, which simulator played the user and why, and the cost split into
targets, simulator and total (``_headline``). A run with two or more models gets the paired
comparison that ``chatsim compare`` prints; ``chatsim compare --html`` writes the same page
shell around a comparison of several runs (``render_comparison_html``).
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

from chatsim.config import RunConfig
from chatsim.metrics._compare import Comparison
from chatsim.metrics._conditions_table import condition_text_table
from chatsim.metrics._render import simulator_notes
from chatsim.metrics._summary import RunSummary
from chatsim.metrics._table import (
    TextTable,
    accuracy_text_table,
    baseline_text_table,
    behaviour_text_table,
    cost_text_table,
    latency_text_table,
    question_text_table,
    recovery_text_table,
)
from chatsim.report import _figures as figs
from chatsim.report._data import ReportData, summarize_run
from chatsim.report._export import require
from chatsim.report._headline import headline_section
from chatsim.report._paired import comparison_sections, paired_section, run_comparison
from chatsim.report._sections import Section, figure_html, html_table, render_sections
from chatsim.report._viewer import conversation_viewer

__all__ = ["render_comparison_html", "render_html", "write_comparison_html", "write_html_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
 background:#f6f7f9}
header{background:#1f2937;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}
header .meta{opacity:.8;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 32px;
 z-index:10;font-size:14px}nav a{margin-right:14px;color:#2563eb;text-decoration:none}
main{padding:8px 32px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:18px 0;
 padding:12px 20px}
section h2{font-size:18px;margin:6px 0 12px}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0 14px}
table.data th,table.data td{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right}
table.data .l{text-align:left}
table.data caption{text-align:left;font-weight:600;padding:4px 0}
table.data th{background:#f3f4f6;position:sticky;top:0}
.scroll{max-height:480px;overflow:auto;display:inline-block;border:1px solid #e5e7eb}
.notes{font-size:13px;color:#555}.empty{color:#777;font-style:italic}
details.episode{border:1px solid #e5e7eb;border-radius:6px;margin:6px 0;padding:6px 10px}
details.episode summary{cursor:pointer;font-size:14px}
.mark.correct{color:#16a34a;font-weight:700}.mark.wrong{color:#dc2626;font-weight:700}
.mark.error{color:#d97706;font-weight:700}
.question{background:#f9fafb;border-left:3px solid #9ca3af;padding:6px 12px;margin:8px 0;
 font-size:14px;white-space:pre-wrap}
.options{margin:4px 0;padding-left:18px}.options li.gold{color:#166534;font-weight:600}
.turn{margin:6px 0;padding:6px 10px;border-radius:6px;font-size:14px}
.turn.user{background:#eef2ff}.turn.assistant{background:#fff7ed}
.turn .who{font-size:12px;color:#555;margin-bottom:3px;text-transform:uppercase}
.turn .text{white-space:pre-wrap}.badge{background:#e5e7eb;border-radius:4px;padding:0 6px;
 margin-left:6px;text-transform:none}.timing{float:right;text-transform:none}
.error{color:#b91c1c;font-size:13px}.controls{margin:6px 0 10px;font-size:14px}
.attempts{margin:6px 0;font-size:13px}.failures{margin:2px 0;padding-left:22px;color:#92400e}
.warning{background:#fffbeb;border:1px solid #f59e0b;border-radius:6px;padding:6px 14px;
 margin:8px 0}.verdicts li{margin:3px 0}
.failure{background:#fef2f2;border:1px solid #dc2626;border-radius:6px;padding:6px 14px;
 margin:8px 0;color:#991b1b}.failure ul{margin:4px 0;font-size:13px}
"""


def _table(t: TextTable, caption: bool = True) -> str:
    if not t.rows:
        return f'<p class="empty">{escape(t.empty)}</p>'
    return html_table(t.headers, t.rows, t.title if caption else "", left=t.left_columns)


def _overview(data: ReportData, summary: RunSummary) -> Section:
    h = data.header
    cfg = h.config
    facts = [
        ("run id", h.run_id),
        ("created", dt.datetime.fromtimestamp(h.created_at, dt.UTC).isoformat(timespec="seconds")),
        ("kind", h.kind),
        ("models", ", ".join(h.models) or ", ".join(summary.models)),
        ("simulator", cfg.simulator),
        ("questions", cfg.source),
        ("repeats", cfg.repeats if isinstance(cfg, RunConfig) else "–"),
        ("episodes recorded / planned", f"{len(data.episodes)} / {h.planned_episodes}"),
        ("chatsim", h.versions.get("chatsim", "–")),
    ]
    if data.torn_tail:
        facts.append(("warning", "the last line of episodes.jsonl was torn and skipped"))
    shown = [*summary.notes, *simulator_notes(summary), summary.price_source]
    notes = "".join(f"<li>{escape(n)}</li>" for n in shown)
    body = html_table(None, facts, left=2) + f'<ul class="notes">{notes}</ul>'
    return Section("overview", "Run", body)


def _builtin_sections(data: ReportData, summary: RunSummary) -> list[Section]:
    eps = data.episodes
    questions = question_text_table(summary, limit=500)
    more = len(summary.questions) - len(questions.rows)
    q_note = ""
    if more > 0:
        q_note = f"First 500 of {len(summary.questions)} rows; export them all with --csv."
        q_note = f'<p class="notes">{q_note}</p>'
    no_baseline = '<p class="empty">No AI-alone baseline in this run (run with --baseline).</p>'
    baseline = (
        _table(baseline_text_table(summary)) + figure_html(figs.baseline_figure(summary))
        if summary.baseline
        else no_baseline
    )
    comparison = run_comparison(data, summary)  # None with fewer than two models
    paired = [] if comparison is None else [paired_section(comparison)]
    # Study conditions other than (only) direct-to-AI are reported apart, as in the terminal.
    conditions = (
        [Section("conditions", "By study condition", _table(condition_text_table(summary)))]
        if summary.conditions
        else []
    )
    return [
        headline_section(summary),  # first: a failed run, the simulator and its cost
        _overview(data, summary),
        Section("accuracy", "User–AI accuracy",
                _table(accuracy_text_table(summary), caption=False)
                + figure_html(figs.accuracy_figure(summary))),
        *conditions,
        *paired,
        Section("baseline", "AI alone vs user–AI", baseline),
        Section("behaviour", "Consistency and conversation behaviour",
                _table(behaviour_text_table(summary), caption=False)
                + figure_html(figs.turns_figure(summary))),
        Section("latency", "Latency",
                figure_html(figs.latency_figure(eps))
                + figure_html(figs.latency_by_turn_figure(summary))
                + _table(latency_text_table(summary), caption=False)),
        Section("timeline", "Timeline", figure_html(figs.timeline_figure(eps))
                or '<p class="empty">No episodes.</p>'),
        Section("recovery", "Recovery and cost",
                _table(recovery_text_table(summary)) + _table(cost_text_table(summary))),
        # Hundreds of rows: a scrolling box keeps the sections below reachable.
        Section("questions", "Per question",
                f'<div class="scroll">{_table(questions, caption=False)}</div>' + q_note),
        Section("conversations", "Conversations", conversation_viewer(eps, data.questions)),
    ]  # fmt: skip


def _page(title: str, meta: str, sections: list[Section]) -> str:
    offline = require("plotly.offline", "the HTML report")
    nav = "".join(f'<a href="#{escape(s.id)}">{escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>{s.html}</section>'
        for s in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{offline.get_plotlyjs()}</script></head><body>'
        f'<header><h1>{escape(title)}</h1><div class="meta">{escape(meta)}</div></header>'
        f"<nav>{nav}</nav><main>{body}</main></body></html>"
    )


def render_html(data: ReportData, summary: RunSummary | None = None) -> str:
    """The whole report as one HTML string."""
    summary = summary or summarize_run(data)
    sections = _builtin_sections(data, summary)
    sections[-1:-1] = render_sections(data, summary)  # before the conversation viewer
    title = f"chatsim report · {data.header.run_id}"
    meta = f"{len(data.episodes)} episodes · {', '.join(summary.models) or 'no models'}"
    return _page(title, meta, sections)


def write_html_report(
    data: ReportData | Path | str, path: Path | str, *, summary: RunSummary | None = None
) -> Path:
    """Write the self-contained HTML report of a run to ``path``; returns the path."""
    if not isinstance(data, ReportData):
        from chatsim.report._data import load_report_data

        data = load_report_data(data)
    return _write(path, render_html(data, summary))


def render_comparison_html(comparison: Comparison) -> str:
    """``chatsim compare --html``: the allowed set-up differences first, then the paired
    comparison, accuracy and latency, as one self-contained page."""
    title = "chatsim comparison · " + " vs ".join(comparison.runs)
    meta = f"{len(comparison.models)} models · {len(comparison.pairs)} paired comparisons"
    return _page(title, meta, comparison_sections(comparison))


def write_comparison_html(comparison: Comparison, path: Path | str) -> Path:
    """Write ``render_comparison_html(comparison)`` to ``path``; returns the path."""
    return _write(path, render_comparison_html(comparison))


def _write(path: Path | str, html: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
