"""``chatsim report RUN_DIR``: the summary recomputed from the records; JSON, tables, HTML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chatsim._exceptions import ConfigError
from chatsim.cli._errors import cli_errors
from chatsim.metrics import load_prices, render_summary
from chatsim.metrics._stats import IntervalMethod
from chatsim.report import export_tables, load_report_data, summarize_run, write_html_report

__all__ = ["report_command"]

_Opt = typer.Option
_INTERVALS: tuple[IntervalMethod, ...] = ("cluster_bootstrap", "se")


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<id>).")],
    json_: Annotated[
        bool, _Opt("--json", help="Print the summary as JSON (an `accuracy` per model).")
    ] = False,
    html: Annotated[
        Path | None, _Opt(help="Write a self-contained HTML report (opens offline) to FILE.")
    ] = None,
    csv: Annotated[
        Path | None, _Opt(help="Write episodes, turns, questions, calls, baseline as CSV to DIR.")
    ] = None,
    parquet: Annotated[Path | None, _Opt(help="Write the same tables as Parquet to DIR.")] = None,
    prices: Annotated[
        Path | None, _Opt(help="Price table JSON (default: the bundled, dated table).")
    ] = None,
    interval: Annotated[
        str, _Opt(help="Interval method: cluster_bootstrap (default) or se (ChatBench's).")
    ] = "cluster_bootstrap",
    errors_as_incorrect: Annotated[
        bool, _Opt("--errors-as-incorrect", help="Score error terminations as incorrect.")
    ] = False,
) -> None:
    """Recompute and print a run's summary from its records; optionally JSON, tables, HTML."""
    console = Console(stderr=True)
    with cli_errors(console):
        if interval not in _INTERVALS:
            raise ConfigError(
                f"unknown interval {interval!r}; valid intervals: cluster_bootstrap, se"
            )
        data = load_report_data(run_dir)
        summary = summarize_run(
            data,
            prices=load_prices(prices) if prices else None,
            interval=interval,
            errors_as_incorrect=errors_as_incorrect,
        )
        if json_:
            sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
        else:
            render_summary(summary, Console(), details=True)
        for fmt, out in (("csv", csv), ("parquet", parquet)):
            if out is not None:
                paths = export_tables(data, out, fmt)  # type: ignore[arg-type]
                console.print(f"wrote {len(paths)} {fmt} tables to {out}", markup=False)
        if html is not None:
            written = write_html_report(data, html, summary=summary)
            console.print(f"wrote {written}", markup=False)
