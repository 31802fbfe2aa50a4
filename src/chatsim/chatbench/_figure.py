"""The calibration scatter plot (plotly, imported lazily) and a standalone page holding it."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError
from chatsim.chatbench._result import Calibration, CalibrationResult

__all__ = ["scatter_figure", "write_calibration_html"]


def scatter_figure(table: Calibration) -> Any:
    """Simulated against human accuracy, one point per question, with the diagonal."""
    import plotly.graph_objects as go

    points = [p for p in table.points if p.simulated is not None]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="simulated = human",
                   line={"dash": "dot", "color": "grey"}, hoverinfo="skip")
    )  # fmt: skip
    for subject in sorted({p.subject for p in points}):
        mine = [p for p in points if p.subject == subject]
        fig.add_trace(
            go.Scatter(
                x=[p.human * 100 for p in mine],
                y=[(p.simulated or 0.0) * 100 for p in mine],
                mode="markers",
                name=subject,
                text=[p.question_id for p in mine],
                customdata=[[p.human_answers, p.episodes] for p in mine],
                hovertemplate="%{text}<br>human %{x:.0f}% (%{customdata[0]} answers)<br>"
                "simulated %{y:.0f}% (%{customdata[1]} episodes)<extra></extra>",
            )
        )
    row = next(r for r in table.rows if r.predictor == "simulated")
    r_text = "r n/a" if row.r is None else f"r = {row.r:.2f}"
    fig.update_layout(
        template="plotly_white", height=520, width=620,
        title=f"{table.run_model} vs humans with {table.human_model} ({table.condition}): "
        f"{r_text}, {row.questions} questions",
        legend={"orientation": "h", "y": -0.2},
    )  # fmt: skip
    fig.update_xaxes(title="human user–AI accuracy (%)", range=[-3, 103])
    fig.update_yaxes(title="simulated user–AI accuracy (%)", range=[-3, 103])
    return fig


def _table_html(table: Calibration) -> str:
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.1f}"

    def num(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    rows = "".join(
        f"<tr><td>{escape(r.predictor)}</td><td>{r.questions}</td><td>{num(r.r)} "
        f"[{num(r.r_low)}, {num(r.r_high)}]</td><td>{pct(r.mae)} [{pct(r.mae_low)}, "
        f"{pct(r.mae_high)}]</td></tr>"
        for r in table.rows
    )
    return (
        "<table><thead><tr><th>predictor</th><th>questions</th><th>Pearson r [CI]</th>"
        f"<th>MAE, points [CI]</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def write_calibration_html(result: CalibrationResult, path: Path | str) -> Path:
    """A self-contained page (plotly inlined; opens offline): each table and its scatter."""
    import plotly.io as pio
    from plotly import offline

    parts = []
    for table in result.tables:
        fig = pio.to_html(scatter_figure(table), include_plotlyjs=False, full_html=False)
        parts.append(f"{_table_html(table)}<div>{fig}</div>")
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>chatsim calibration</title>'
        f"<script>{offline.get_plotlyjs()}</script><style>body{{font-family:sans-serif;"
        "margin:2em}td,th{padding:4px 10px;text-align:right}</style></head><body>"
        f"<h1>Calibration against ChatBench</h1><p>{escape(result.run_dir)} against "
        f"{escape(result.answers_file)}</p>{''.join(parts)}</body></html>"
    )
    out = Path(path)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write the calibration page to {out}: {exc.strerror}") from exc
    return out
