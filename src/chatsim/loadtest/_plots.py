"""The load summary as plotly figures, for the HTML report. plotly is imported lazily."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatsim._exceptions import MissingDependencyError
from chatsim.loadtest._render import as_load_summary
from chatsim.loadtest._summary import LoadSummary, StageSummary

__all__ = ["load_summary_figures"]


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise MissingDependencyError("plotly", "report", "plotting a load test") from exc
    return go


def _timeline(s: LoadSummary) -> list[tuple[StageSummary, list[float]]]:
    """Each stage with its points' times, in seconds since the first stage started."""
    origin = s.stages[0].started_at if s.stages else 0.0
    return [(st, [st.started_at - origin + p.t for p in st.series]) for st in s.stages]


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def _stage_marks(fig: Any, s: LoadSummary) -> None:
    origin = s.stages[0].started_at if s.stages else 0.0
    for st in s.stages[1:]:
        fig.add_vline(x=st.started_at - origin, line_dash="dot", line_color="grey")


def _throughput(go: Any, s: LoadSummary) -> Any:
    fig = go.Figure()
    bucket = s.bucket
    for name, key in (("arrivals/s", "arrivals"), ("completed/s", "completed"),
                      ("errors/s", "errors")):  # fmt: skip
        xs: list[float] = []
        ys: list[float] = []
        for st, times in _timeline(s):
            xs += times
            ys += [getattr(p, key) / bucket for p in st.series]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name))
    _stage_marks(fig, s)
    fig.update_layout(
        title="Throughput over time (conversations per second)",
        xaxis_title="seconds",
        yaxis_title="per second",
    )
    return fig


def _latency(go: Any, s: LoadSummary) -> Any:
    fig = go.Figure()
    series = (
        ("TTFT p50", "ttft_p50"),
        ("TTFT p95", "ttft_p95"),
        ("TTFT p95 (scheduled)", "ttft_p95_scheduled"),
        ("end-to-end p95", "e2e_p95"),
        ("end-to-end p95 (scheduled)", "e2e_p95_scheduled"),
        ("event-loop lag p99", "lag_p99"),
    )
    for name, key in series:
        xs: list[float] = []
        ys: list[float | None] = []
        for st, times in _timeline(s):
            xs += times
            ys += [_ms(getattr(p, key)) for p in st.series]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, connectgaps=False))
    _stage_marks(fig, s)
    fig.update_layout(title="Latency over time", xaxis_title="seconds", yaxis_title="milliseconds")
    return fig


def _sweep(go: Any, s: LoadSummary) -> Any:
    loads = [st.load for st in s.stages]
    scheduled = s.objectives.basis == "scheduled"
    fig = go.Figure()
    ttft = [_ms((st.ttft_scheduled if scheduled else st.ttft_sent).p95) for st in s.stages]
    e2e = [_ms((st.e2e_scheduled if scheduled else st.e2e_sent).p95) for st in s.stages]
    fig.add_trace(go.Scatter(x=loads, y=ttft, mode="lines+markers", name="TTFT p95 (ms)"))
    fig.add_trace(go.Scatter(x=loads, y=e2e, mode="lines+markers", name="end-to-end p95 (ms)"))
    for name, values in (
        ("throughput (conv/s)", [st.throughput for st in s.stages]),
        ("goodput (conv/s)", [st.goodput for st in s.stages]),
    ):
        fig.add_trace(go.Scatter(x=loads, y=values, mode="lines+markers", name=name, yaxis="y2"))
    for value, label in ((s.objectives.ttft_p95, "TTFT objective"),
                         (s.objectives.e2e_p95, "end-to-end objective")):  # fmt: skip
        if value is not None:
            fig.add_hline(y=value * 1000, line_dash="dash", annotation_text=label)
    if s.saturation.found and s.saturation.first_broken_load is not None:
        fig.add_vline(x=s.saturation.first_broken_load, line_color="red", line_dash="dot")
    fig.update_layout(
        title=f"Sweep: latency ({s.objectives.basis}) and throughput by load",
        xaxis_title=s.load_unit,
        yaxis={"title": "milliseconds"},
        yaxis2={"title": "conversations per second", "overlaying": "y", "side": "right"},
    )
    return fig


def load_summary_figures(summary: LoadSummary | Mapping[str, Any]) -> list[Any]:
    """``plotly.graph_objects.Figure``s: throughput and latency over time, and (for a sweep)
    latency and throughput by load. Raises ``MissingDependencyError`` without plotly."""
    go = _go()
    s = as_load_summary(summary)
    figures = [_throughput(go, s), _latency(go, s)]
    if len(s.stages) > 1:
        figures.append(_sweep(go, s))
    return figures
