"""``chatsim calibrate RUN_DIR --human PATH``: simulated against human accuracy, per question."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatsim._exceptions import ConfigError
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import cli_errors

if TYPE_CHECKING:  # chatsim.chatbench (~0.3 s) is imported when the command runs
    from chatsim.chatbench import Calibration, CalibrationResult

__all__ = ["calibrate_command"]

_Opt = typer.Option


def _fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}"


def _render(table: Calibration, result: CalibrationResult, console: Console) -> None:
    level = round(result.confidence * 100)
    out = Table(
        title=f"{table.run_model} vs humans with {table.human_model}, {table.condition} "
        f"(AI-alone from {table.ai_alone_source})",
        title_justify="left",
    )
    for name in ("predictor", "questions", f"Pearson r [{level}% CI]", f"MAE [{level}% CI]"):
        out.add_column(name, justify="left" if name == "predictor" else "right")
    for row in table.rows:
        out.add_row(
            row.predictor,
            str(row.questions),
            f"{_fmt(row.r)} [{_fmt(row.r_low)}, {_fmt(row.r_high)}]",
            f"{_fmt(row.mae)} [{_fmt(row.mae_low)}, {_fmt(row.mae_high)}]",
        )
    console.print(out)
    for row in table.rows:
        if row.note:
            console.print(f"  {row.predictor}: {row.note}", markup=False, highlight=False)


def _summary_lines(result: CalibrationResult, console: Console) -> None:
    if result.split is not None:
        console.print(f"held-out questions only: {result.heldout} in {result.split}", markup=False)
    for model, why in result.skipped_models.items():
        console.print(f"skipped run model {model}: {why}", markup=False)
    if result.unmapped_ids:
        shown = ", ".join(list(result.unmapped_ids)[:5])
        more = len(result.unmapped_ids) - 5
        console.print(
            f"{len(result.unmapped_ids)} release question id(s) map to no bundled question: "
            f"{shown}{f' (+{more} more; --json lists them)' if more > 0 else ''}",
            markup=False,
        )


def calibrate_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<id>).")],
    human: Annotated[
        str,
        _Opt(
            help="The ChatBench release: a local folder, or `hf` to download microsoft/ChatBench."
        ),
    ],
    model_map: Annotated[
        list[str] | None,
        _Opt(help="RUN_MODEL=HUMAN_MODEL (release models: gpt-4o, llama-3.1-8b); repeatable."),
    ] = None,
    split: Annotated[
        Path | None,
        _Opt(help='Split JSON {"train": [...], "heldout": [...]}; only held-out questions count.'),
    ] = None,
    column: Annotated[
        list[str] | None,
        _Opt(help="KEY=NAME: a release column named differently (e.g. correct=is_correct)."),
    ] = None,
    resamples: Annotated[int, _Opt(help="Bootstrap resamples over questions.")] = 2000,
    seed: Annotated[int, _Opt(help="Bootstrap seed.")] = 20250101,
    json_: Annotated[bool, _Opt("--json", help="Print the result as JSON.")] = False,
    html: Annotated[
        Path | None, _Opt(help="Write a standalone page with the table and scatter plot.")
    ] = None,
) -> None:
    """Compare a run's per-question accuracy with ChatBench's human users (r, MAE)."""
    from chatsim.chatbench import (
        calibrate,
        parse_column_overrides,
        parse_model_map,
        write_calibration_html,
    )

    console = Console(stderr=True)
    with cli_errors(console):
        if resamples < 100:
            raise ConfigError(f"--resamples must be at least 100, got {resamples}")
        result = calibrate(
            run_dir,
            human if human == "hf" or human.startswith("hf:") else Path(human),
            model_map=parse_model_map(model_map or []),
            split=split,
            columns=parse_column_overrides(column or []),
            resamples=resamples,
            seed=seed,
        )
        if json_:
            sys.stdout.write(json.dumps(result.model_dump(mode="json"), indent=2) + "\n")
        else:
            for table in result.tables:
                _render(table, result, stdout_console())
        _summary_lines(result, console)
        if html is not None:
            console.print(f"wrote {write_calibration_html(result, html)}", markup=False)
