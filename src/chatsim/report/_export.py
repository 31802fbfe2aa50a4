"""Tables for analysis: episodes, turns, per-question results, target calls and AI-alone
answers as pandas DataFrames, and written as CSV or Parquet (pandas and pyarrow are
dependencies of chatsim, imported only when a table is asked for)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chatsim._exceptions import ConfigError, MissingDependencyError
from chatsim.metrics._behaviour import episode_behaviour
from chatsim.metrics._latency import call_timings, episode_timing
from chatsim.metrics._questions import question_table
from chatsim.protocol import stated_answer
from chatsim.recording._records import EpisodeRecord
from chatsim.report._data import ReportData

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TABLES", "export_tables", "require", "to_dataframes"]

TABLES = ("episodes", "turns", "questions", "calls", "baseline")


def require(module: str, purpose: str) -> Any:
    """Import a report dependency lazily (a run never pays for pandas or plotly), or say how
    to repair an install that lacks it (``chatsim[report]`` reinstalls them)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], "report", purpose) from exc


def _episode_row(ep: EpisodeRecord, stem: str | None) -> dict[str, Any]:
    timing = episode_timing(ep)
    behaviour = episode_behaviour(ep, stem)
    usage = [t.usage for t in ep.turns if t.role.value == "assistant" and t.usage is not None]
    row = ep.model_dump(exclude={"turns", "extra"}, mode="json")
    row.update(
        wall_s=timing.wall,
        simulator_s=timing.simulator,
        target_s=timing.target,
        queue_s=timing.queue,
        prompt_tokens=sum(u.prompt_tokens for u in usage),
        completion_tokens=sum(u.completion_tokens for u in usage),
        assistant_last_stated=behaviour.last_stated,
        follows_assistant=behaviour.follows,
        assistant_changed=behaviour.changed,
        copied_question=behaviour.copied_question,
        extra=json.dumps(ep.extra) if ep.extra else None,
    )
    return row


def _turn_rows(ep: EpisodeRecord) -> list[dict[str, Any]]:
    rows = []
    for t in ep.turns:
        row = t.model_dump(exclude={"usage", "attempts"}, mode="json")
        row.update(
            episode_id=ep.episode_id,
            model=ep.model,
            question_id=ep.question_id,
            prompt_tokens=t.usage.prompt_tokens if t.usage else None,
            completion_tokens=t.usage.completion_tokens if t.usage else None,
            attempts=len(t.attempts),
            stated_answer=stated_answer(t.text) if t.role.value == "assistant" else None,
        )
        rows.append(row)
    return rows


def _builders(data: ReportData) -> dict[str, Callable[[], list[dict[str, Any]]]]:
    eps = data.episodes
    stems = data.stems
    return {
        "episodes": lambda: [_episode_row(ep, stems.get(ep.question_id)) for ep in eps],
        "turns": lambda: [row for ep in eps for row in _turn_rows(ep)],
        "questions": lambda: [
            {**r.model_dump(exclude={"answers"}), "answers": json.dumps(r.answers)}
            for r in question_table(eps)
        ],
        "calls": lambda: [_slots(c) for c in call_timings(eps)],
        "baseline": lambda: [r.model_dump(exclude={"usage"}, mode="json") for r in data.baseline],
    }


def _slots(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def to_dataframes(data: ReportData) -> dict[str, pd.DataFrame]:
    """``{"episodes", "turns", "questions", "calls", "baseline"}`` -> DataFrame."""
    pd = require("pandas", "exporting tables")
    return {name: pd.DataFrame(build()) for name, build in _builders(data).items()}


def export_tables(
    data: ReportData, out_dir: Path | str, fmt: Literal["csv", "parquet"] = "csv"
) -> list[Path]:
    """Write every table to ``out_dir/<name>.<fmt>``; returns the paths written."""
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"unknown table format {fmt!r}; valid formats: csv, parquet")
    if fmt == "parquet":
        require("pyarrow", "writing Parquet")
    frames = to_dataframes(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths
