"""The HTML report's plots (plotly). Each builder returns a figure, or None when there is
nothing to plot; ``plotly`` (a dependency) is imported lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatsim.metrics._compare import Comparison
from chatsim.metrics._latency import call_timings
from chatsim.metrics._summary import RunSummary
from chatsim.protocol._types import Role
from chatsim.recording._records import EpisodeRecord
from chatsim.report._export import require

__all__ = [
    "accuracy_figure",
    "baseline_figure",
    "latency_by_turn_figure",
    "latency_figure",
    "paired_figure",
    "sample_episodes",
    "timeline_figure",
    "turns_figure",
]

ALL = "(all)"
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 420,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
    "legend": {"orientation": "h", "y": -0.2},
}


def _go() -> Any:
    return require("plotly.graph_objects", "the HTML report")


def _pct(x: float | None) -> float | None:
    return None if x is None else x * 100


def _err(value: float | None, bound: float | None) -> float:
    return 0.0 if value is None or bound is None else abs(value - bound) * 100


def accuracy_figure(summary: RunSummary) -> Any:
    """User–AI accuracy with its interval, per model, overall and per subject."""
    if not summary.models:
        return None
    go = _go()
    fig = go.Figure()
    for name, m in summary.models.items():
        groups = {ALL: m, **m.subjects}
        xs = list(groups)
        ys = [_pct(g.accuracy) for g in groups.values()]
        fig.add_trace(
            go.Bar(
                name=name,
                x=xs,
                y=ys,
                error_y={
                    "type": "data",
                    "array": [_err(g.accuracy, g.ci.high) for g in groups.values()],
                    "arrayminus": [_err(g.accuracy, g.ci.low) for g in groups.values()],
                },
                customdata=[[g.questions, g.episodes] for g in groups.values()],
                hovertemplate="%{x}: %{y:.1f}%<br>%{customdata[0]} questions, "
                "%{customdata[1]} episodes<extra>" + name + "</extra>",
            )
        )
    level = round(summary.confidence * 100)
    fig.update_layout(
        **_LAYOUT, barmode="group", title=f"User–AI accuracy ({level}% CI over questions)"
    )
    fig.update_yaxes(title="accuracy (%)", range=[0, 105])
    return fig


def paired_figure(comparison: Comparison) -> Any:
    """Each pair's paired difference ``a − b`` with its interval: one row per pair and subject,
    a line at 0, so that an interval crossing it shows "no clear difference" at a glance."""
    shown = [p for p in comparison.pairs if p.diff.diff is not None]
    if not shown:
        return None
    go = _go()
    labels = [f"{p.a} − {p.b}" + ("" if p.subject == ALL else f" · {p.subject}") for p in shown]
    fig = go.Figure(
        go.Scatter(
            x=[_pct(p.diff.diff) for p in shown],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": _color(0)},
            error_x={
                "type": "data",
                "array": [_err(p.diff.diff, p.diff.ci.high) for p in shown],
                "arrayminus": [_err(p.diff.diff, p.diff.ci.low) for p in shown],
            },
            customdata=[[p.diff.questions, p.paired_episodes, p.diff.p_value] for p in shown],
            hovertemplate="%{y}: %{x:+.1f} points<br>%{customdata[0]} questions, "
            "%{customdata[1]} paired episodes, p=%{customdata[2]:.2g}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#888", "dash": "dash"})
    level = round(comparison.confidence * 100)
    height = max(260, 40 * len(shown) + 140)
    title = f"Paired differences in accuracy, a − b ({level}% CI over shared questions)"
    fig.update_layout(**{**_LAYOUT, "height": height}, title=title, showlegend=False)
    fig.update_xaxes(title="a − b (accuracy points)", zeroline=False)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def baseline_figure(summary: RunSummary) -> Any:
    """AI-alone accuracy next to user–AI accuracy (on the same questions); one hue per model,
    solid for user–AI, lighter for each AI-alone mode."""
    if not summary.baseline:
        return None
    go = _go()
    fig = go.Figure()
    models = list(dict.fromkeys(r.model for r in summary.baseline))
    for i, model in enumerate(models):
        rows = [r for r in summary.baseline if r.model == model]
        modes = list(dict.fromkeys(r.mode for r in rows))
        user_rows = [r for r in rows if r.mode == modes[0]]
        fig.add_trace(
            go.Bar(name=f"{model} · user–AI", x=[r.subject for r in user_rows],
                   y=[_pct(r.gap.a) for r in user_rows], marker_color=_color(i),
                   offsetgroup=f"{model}-user")
        )  # fmt: skip
        for j, mode in enumerate(modes):
            mine = [r for r in rows if r.mode == mode]
            fig.add_trace(
                go.Bar(
                    name=f"{model} · AI alone ({mode})",
                    x=[r.subject for r in mine],
                    y=[_pct(r.gap.b) for r in mine],
                    marker={"color": _color(i), "opacity": 0.55 - 0.2 * j,
                            "pattern": {"shape": "/" if j % 2 == 0 else "."}},
                    offsetgroup=f"{model}-{mode}",
                    customdata=[
                        [_pct(r.gap.diff), _pct(r.gap.ci.low), _pct(r.gap.ci.high)] for r in mine
                    ],
                    hovertemplate="%{x}: %{y:.1f}%<br>gap user–AI − AI alone: "
                    "%{customdata[0]:.1f} (CI %{customdata[1]:.1f} to %{customdata[2]:.1f})"
                    "<extra></extra>",
                )
            )  # fmt: skip
    fig.update_layout(**_LAYOUT, barmode="group", title="AI alone vs user–AI accuracy")
    fig.update_yaxes(title="accuracy (%)", range=[0, 105])
    return fig


def turns_figure(summary: RunSummary) -> Any:
    """User messages per episode, per model."""
    if not any(m.behaviour.turns_histogram for m in summary.models.values()):
        return None
    go = _go()
    fig = go.Figure()
    for name, m in summary.models.items():
        hist = m.behaviour.turns_histogram
        fig.add_trace(go.Bar(name=name, x=list(hist), y=list(hist.values())))
    fig.update_layout(**_LAYOUT, barmode="group", title="User messages per episode")
    fig.update_xaxes(title="user messages", dtick=1)
    fig.update_yaxes(title="episodes")
    return fig


def latency_figure(episodes: Sequence[EpisodeRecord]) -> Any:
    """Distributions of TTFT and end-to-end latency (from send and from request), per model."""
    calls = call_timings(episodes)
    if not calls:
        return None
    go = _go()
    subplots = require("plotly.subplots", "the HTML report")
    fig = subplots.make_subplots(
        rows=1, cols=3, subplot_titles=("TTFT (from send)", "end-to-end (from send)",
                                        "end-to-end (from request)"),
    )  # fmt: skip
    for i, model in enumerate(dict.fromkeys(c.model for c in calls)):
        mine = [c for c in calls if c.model == model]
        for col, values in enumerate(
            (
                [c.ttft_sent for c in mine if c.ttft_sent is not None],
                [c.e2e_sent for c in mine],
                [c.e2e_requested for c in mine],
            ),
            start=1,
        ):
            fig.add_trace(
                go.Box(y=values, name=model, legendgroup=model, showlegend=col == 1,
                       marker_color=_color(i), boxpoints=False),
                row=1, col=col,
            )  # fmt: skip
    margin = {**_LAYOUT["margin"], "t": 90}
    fig.update_layout(**{**_LAYOUT, "margin": margin}, title="Latency per target call (seconds)")
    return fig


def latency_by_turn_figure(summary: RunSummary) -> Any:
    """p50 and p95 end-to-end latency (from send) by assistant turn number."""
    if not any(m.latency.by_turn for m in summary.models.values()):
        return None
    go = _go()
    fig = go.Figure()
    for i, (name, m) in enumerate(summary.models.items()):
        turns = list(m.latency.by_turn)
        for q, dash in (("p50", "solid"), ("p95", "dash")):
            ys = [getattr(t.e2e_sent, q) for t in m.latency.by_turn.values()]
            fig.add_trace(
                go.Scatter(x=[t + 1 for t in turns], y=ys, name=f"{name} {q}", mode="lines+markers",
                           line={"dash": dash, "color": _color(i)})
            )  # fmt: skip
    fig.update_layout(**_LAYOUT, title="End-to-end latency by assistant turn (seconds)")
    fig.update_xaxes(title="assistant turn", dtick=1)
    return fig


def _color(i: int) -> str:
    palette = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")
    return palette[i % len(palette)]


def sample_episodes(episodes: Sequence[EpisodeRecord], n: int) -> list[EpisodeRecord]:
    """Up to ``n`` episodes spread evenly over the run, in start order (deterministic)."""
    ordered = sorted(episodes, key=lambda ep: (ep.started_at, ep.episode_id))
    if len(ordered) <= n:
        return ordered
    step = len(ordered) / n
    return [ordered[int(i * step)] for i in range(n)]


def timeline_figure(episodes: Sequence[EpisodeRecord], n: int = 30) -> Any:
    """A sample of episodes on a time axis: simulator, queue and target time of every turn."""
    sample = sample_episodes(episodes, n)
    if not sample:
        return None
    go = _go()
    t0 = min(ep.started_at for ep in sample)
    parts: dict[str, tuple[list[float], list[float], list[str]]] = {
        k: ([], [], []) for k in ("queue", "simulator", "target")
    }
    for ep in sample:
        label = f"{ep.model} · {ep.question_id} · r{ep.repeat}"
        for t in ep.turns:
            # Queue is the recorded slot/bucket/batch wait; the rest of the turn is work
            # (for the target: every attempt and the waits between retries).
            if t.queue_time > 0:
                _add(parts["queue"], t.requested_at - t0, t.queue_time, label)
            kind = "simulator" if t.role is Role.USER else "target"
            work_start = t.requested_at + t.queue_time
            _add(parts[kind], work_start - t0, max(0.0, t.ended_at - work_start), label)
    fig = go.Figure()
    colors = {"queue": "#b0b0b0", "simulator": "#636efa", "target": "#ef553b"}
    for kind, (base, width, labels) in parts.items():
        fig.add_trace(
            go.Bar(name=kind, orientation="h", base=base, x=width, y=labels,
                   marker={"color": colors[kind], "line": {"color": "white", "width": 1}},
                   hovertemplate="%{y}<br>start %{base:.2f}s, %{x:.3f}s<extra>" + kind + "</extra>")
        )  # fmt: skip
    height = max(300, 22 * len(sample) + 140)
    title = f"Timeline of {len(sample)} episodes (seconds from the first start)"
    fig.update_layout(**{**_LAYOUT, "height": height}, barmode="overlay", title=title)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def _add(
    part: tuple[list[float], list[float], list[str]], base: float, width: float, y: str
) -> None:
    part[0].append(base)
    part[1].append(width)
    part[2].append(y)
