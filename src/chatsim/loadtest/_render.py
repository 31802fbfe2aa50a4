"""The load summary in the terminal: one row per stage, then the saturation point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatsim.loadtest._summary import LoadSummary
from chatsim.metrics import Percentiles

__all__ = ["as_load_summary", "render_load_summary"]


def as_load_summary(summary: LoadSummary | Mapping[str, Any]) -> LoadSummary:
    """A ``LoadSummary`` from itself or from its JSON form (``load_summary.json``)."""
    if isinstance(summary, LoadSummary):
        return summary
    return LoadSummary.model_validate(dict(summary))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _pair(p: Percentiles) -> str:
    return f"{_ms(p.p50)}/{_ms(p.p95)}"


def _throughput_table(s: LoadSummary) -> Table:
    unit = "rate" if s.mode == "open" else "users"
    table = Table(title=f"load test: {s.model} ({s.mode} loop)", title_justify="left")
    for name in (unit, "arr", "done", "err%", "aband", "conv/s", "good/s", "call/s", "acc", "SLO"):
        table.add_column(name, justify="right")
    for st in s.stages:
        table.add_row(
            f"{st.load:g}",
            str(st.arrivals),
            str(st.completed),
            f"{st.error_rate * 100:.1f}",
            str(st.abandoned),
            f"{st.throughput:.1f}",
            f"{st.goodput:.1f}",
            f"{st.call_rate:.1f}",
            "-" if st.accuracy is None else f"{st.accuracy:.0%}",
            Text("met", style="green") if st.met_objectives else Text("broken", style="red"),
        )
    return table


def _latency_table(s: LoadSummary) -> Table:
    unit = "rate" if s.mode == "open" else "users"
    table = Table(
        caption="ms; sched: from the scheduled time (client queueing included); pause: a "
        "reply's longest wait between tokens; late: conversations' start delay; lag: client "
        "event loop; cpu: client, share of a core",
        caption_justify="left",
    )
    table.add_column(unit, justify="right")
    names = ("TTFT p50/p95", "sched p95", "E2E p50/p95", "sched p95", "pause p95", "late p95",
             "lag p99")  # fmt: skip
    for name in (*names, "cpu"):
        table.add_column(name, justify="right")
    for st in s.stages:
        table.add_row(
            f"{st.load:g}",
            _pair(st.ttft_sent),
            _ms(st.ttft_scheduled.p95),
            _pair(st.e2e_sent),
            _ms(st.e2e_scheduled.p95),
            _ms(st.max_token_gap.p95),
            _ms(st.start_lag.p95),
            _ms(st.event_loop_lag.p99),
            Text(f"{st.client_cpu:.0%}", style="red" if st.client_busy else ""),
        )
    return table


def render_load_summary(summary: LoadSummary | Mapping[str, Any], console: Console) -> None:
    """Print per-stage throughput and latency tables, the objectives and the saturation point.

    ``late`` is how late conversations started (the client's queue); ``lag`` the client's
    event-loop lag: both should be near zero, or the client, not the target, was measured.
    """
    s = as_load_summary(summary)
    console.print(_throughput_table(s))
    console.print(_latency_table(s))
    o = s.objectives
    wanted = [
        f"TTFT p95 <= {_ms(o.ttft_p95)} ms" if o.ttft_p95 is not None else "",
        f"end-to-end p95 <= {_ms(o.e2e_p95)} ms" if o.e2e_p95 is not None else "",
        f"errors <= {o.error_rate:.1%}" if o.error_rate is not None else "",
    ]
    shown = ", ".join(w for w in wanted if w) or "none"
    console.print(f"objectives ({o.basis} latency): {shown}", markup=False, highlight=False)
    style = "bold red" if s.saturation.found else "bold green"
    console.print(Text.assemble(("saturation: ", "bold"), (s.saturation.note, style)))
    lag = s.event_loop_lag
    if lag.n:
        console.print(
            f"client event-loop lag: p50 {_ms(lag.p50)} ms, p99 {_ms(lag.p99)} ms, "
            f"max {_ms(lag.max)} ms",
            markup=False,
            highlight=False,
        )
    busy = [f"{st.load:g}" for st in s.stages if st.client_busy]
    if busy:
        console.print(
            f"warning: the load tester itself was busy at load {', '.join(busy)} (cpu > 80% or "
            "loop lag p99 > 50 ms): those figures may measure the client, not the target",
            style="yellow",
            markup=False,
        )
    if s.interrupted:
        console.print("the load test was stopped early", style="yellow")
