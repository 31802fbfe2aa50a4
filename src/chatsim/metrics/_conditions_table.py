"""The by-condition table: one line per (condition, model), plus each condition's pooled line."""

from __future__ import annotations

from chatsim.metrics._accuracy import GroupSummary
from chatsim.metrics._conditions import AnswerFirstSummary
from chatsim.metrics._summary import RunSummary
from chatsim.metrics._table import ALL, TextTable, format_interval, format_pct

__all__ = ["condition_text_table"]

_WHAT = {"direct-to-AI": "user–AI", "answer-first": "user–AI", "user-alone": "user alone"}


def _switch(k: int, rate: float | None) -> str:
    return "–" if rate is None else f"{k} ({rate * 100:.0f}%)"


def _cells(condition: str, model: str, g: GroupSummary, af: AnswerFirstSummary | None) -> list[str]:
    row = [condition, model, _WHAT.get(condition, ""), str(g.episodes), str(g.questions),
           format_pct(g.accuracy), format_interval(g.ci.low, g.ci.high)]  # fmt: skip
    if af is None:
        return [*row, "–", "–", "–", "–"]
    return [
        *row,
        format_pct(af.initial_accuracy),
        format_pct(af.final_accuracy),
        _switch(af.right_to_wrong, af.right_to_wrong_rate),
        _switch(af.wrong_to_right, af.wrong_to_right_rate),
    ]


def condition_text_table(summary: RunSummary) -> TextTable:
    """Accuracy per study condition; answer-first's answer alone vs after, and the switches
    (right→wrong as a share of those right alone, wrong→right of those wrong alone)."""
    level = f"{round(summary.confidence * 100)}% CI"
    headers = ["condition", "model", "measures", "episodes", "questions", "accuracy", level,
               "alone", "after", "right→wrong", "wrong→right"]  # fmt: skip
    rows = []
    for name, c in summary.conditions.items():
        rows.append(_cells(name, ALL, c, c.answer_first))
        if len(c.models) > 1:
            rows += [_cells(name, m, g, g.answer_first) for m, g in c.models.items()]
    title = "By study condition (alone / after: answer-first's two answers, same episodes)"
    return TextTable(title, headers, rows, left_columns=3, empty="(one condition)")
