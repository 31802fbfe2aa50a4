"""The first section of the HTML report: what to know before reading any figure.

A failed run's verdict (``failure_lines``), which simulator played the user and why
(``simulator_line``), and the run's cost split into targets, simulator and total
(``cost_line``, ``cost_total_cell``): the very lines ``chatsim run`` and ``chatsim report``
print first, so the page and the terminal cannot disagree. Nothing is recomputed here.
"""

from __future__ import annotations

from html import escape

from chatsim.metrics._render import cost_line, failure_lines, simulator_line
from chatsim.metrics._summary import RunSummary
from chatsim.metrics._table import cost_total_cell
from chatsim.report._sections import Section, html_table

__all__ = ["HEADLINE_SECTION_ID", "headline_section"]

HEADLINE_SECTION_ID = "headline"


def _failure_html(summary: RunSummary) -> str:
    lines = failure_lines(summary)
    if not lines:
        return ""
    verdict, *kinds = lines
    items = "".join(f"<li>{escape(k.strip())}</li>" for k in kinds)
    return (
        f'<div class="failure"><p><b>{escape(verdict)}</b></p>'
        f'<ul class="error-kinds">{items}</ul></div>'
    )


def _cost_html(summary: RunSummary) -> str:
    c = summary.cost
    rows = [
        (label, str(t.prompt_tokens), str(t.completion_tokens), cost_total_cell(t))
        for label, t in (("targets", c.target), ("simulator", c.simulator), ("total", c.total))
    ]
    headers = ["", "prompt tokens", "completion tokens", "est. cost"]
    return f'<p class="cost">{escape(cost_line(summary))}</p>' + html_table(headers, rows)


def headline_section(summary: RunSummary) -> Section:
    """The failure verdict (when the run failed), the simulator line and the cost split."""
    sim = simulator_line(summary)
    simulator = f'<p class="simulator">{escape(sim)}</p>' if sim else ""
    body = _failure_html(summary) + simulator + _cost_html(summary)
    title = "Run failed" if summary.failure is not None else "At a glance"
    return Section(HEADLINE_SECTION_ID, title, body)
