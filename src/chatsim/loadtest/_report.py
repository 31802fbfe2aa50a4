"""The load test's part of the HTML report: a ``chatsim.report`` section renderer.

``load_test_sections(data, summary)`` is a ``chatsim.report.SectionRenderer``: per-stage
tables, the objectives and saturation point, and the figures of ``load_summary_figures``.
The report finds it through the entry point ``loadtest`` in the group
``chatsim.report_sections`` (see pyproject.toml) and never imports this package: the load test
depends on the report, not the other way round. Only public report names are used; none of them
loads plotly or pandas on import (``figure_html`` imports plotly when a figure is drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chatsim.loadtest._plots import load_summary_figures
from chatsim.loadtest._render import as_load_summary
from chatsim.loadtest._summary import LoadSummary
from chatsim.report import LOAD_SECTION_ID, ReportData, Section, figure_html, html_table

if TYPE_CHECKING:
    from chatsim.metrics import RunSummary

__all__ = ["load_test_sections", "stage_rows"]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


def stage_rows(s: LoadSummary) -> tuple[list[str], list[list[Any]]]:
    """Headers and one row per stage (what the HTML table shows)."""
    headers = [
        s.load_unit, "arrivals", "completed", "error %", "abandoned", "conv/s", "goodput/s",
        "calls/s", "TTFT p50", "TTFT p95", "TTFT p95 sched", "E2E p50", "E2E p95",
        "E2E p95 sched", "pause p95", "connect p95", "late p95", "lag p99", "client cpu",
        "objectives",
    ]  # fmt: skip
    rows = [
        [
            f"{st.load:g}",
            st.arrivals,
            st.completed,
            f"{100 * st.error_rate:.1f}",
            st.abandoned,
            f"{st.throughput:.2f}",
            f"{st.goodput:.2f}",
            f"{st.call_rate:.1f}",
            _ms(st.ttft_sent.p50),
            _ms(st.ttft_sent.p95),
            _ms(st.ttft_scheduled.p95),
            _ms(st.e2e_sent.p50),
            _ms(st.e2e_sent.p95),
            _ms(st.e2e_scheduled.p95),
            _ms(st.max_token_gap.p95),
            _ms(st.connect.p95),
            _ms(st.start_lag.p95),
            _ms(st.event_loop_lag.p99),
            f"{st.client_cpu:.0%}",
            "met" if st.met_objectives else "broken: " + "; ".join(st.breaches),
        ]
        for st in s.stages
    ]
    return headers, rows


def load_test_sections(data: ReportData, summary: RunSummary) -> Sequence[Section]:
    """The "Load test" section of a ``chatsim loadtest`` run's HTML report; none for any other
    run, whose ``load_summary.json`` (if any) the report's generic rendering then shows."""
    if data.load_summary is None or not {"stages", "saturation"} <= data.load_summary.keys():
        return []
    s = as_load_summary(data.load_summary)
    o = s.objectives
    wanted = [
        f"TTFT p95 ≤ {_ms(o.ttft_p95)} ms" if o.ttft_p95 is not None else "",
        f"end-to-end p95 ≤ {_ms(o.e2e_p95)} ms" if o.e2e_p95 is not None else "",
        f"errors ≤ {o.error_rate:.1%}" if o.error_rate is not None else "",
    ]
    facts = [
        ("model", s.model),
        ("mode", f"{s.mode} loop" + (f", {s.arrival} arrivals" if s.mode == "open" else "")),
        ("objectives", f"{', '.join(w for w in wanted if w) or 'none'} ({o.basis} latency)"),
        ("saturation", s.saturation.note),
        (
            "client event-loop lag",
            f"p50 {_ms(s.event_loop_lag.p50)} ms, p99 {_ms(s.event_loop_lag.p99)} ms",
        ),
    ]
    if s.interrupted:
        facts.append(("warning", "the load test was stopped early"))
    busy = [f"{st.load:g}" for st in s.stages if st.client_busy]
    if busy:
        facts.append(("warning", f"the load tester itself was busy at load {', '.join(busy)}"))
    headers, rows = stage_rows(s)
    notes = (
        '<p class="notes">Latency in ms. "sched": from the scheduled time, client queueing '
        'included; "pause": a streamed reply\'s longest wait between tokens; "connect": '
        'opening a new connection (DNS, TCP, TLS); "late": how late conversations started; '
        '"lag": the client\'s event loop.</p>'
    )
    body = html_table(None, facts, left=2) + html_table(headers, rows) + notes
    body += "".join(figure_html(fig) for fig in load_summary_figures(s))
    return [Section(LOAD_SECTION_ID, "Load test", body)]
