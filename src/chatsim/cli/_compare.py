"""``chatsim compare RUN_DIR [RUN_DIR ...]``: models on the same questions, side by side."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chatsim._exceptions import ConfigError
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import cli_errors
from chatsim.metrics import compare, render_comparison
from chatsim.metrics._stats import IntervalMethod
from chatsim.recording import read_run

__all__ = ["compare_command"]

_Opt = typer.Option


def compare_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories; one run with several models is enough.")
    ],
    json_: Annotated[bool, _Opt("--json", help="Print the comparison as JSON.")] = False,
    errors_as_incorrect: Annotated[
        bool, _Opt("--errors-as-incorrect", help="Score error terminations as incorrect.")
    ] = False,
) -> None:
    """Paired accuracy differences (with intervals and p-values), verdicts, and latency."""
    console = Console(stderr=True)
    with cli_errors(console):
        runs = [read_run(path) for path in run_dirs]
        method: IntervalMethod = "cluster_bootstrap"
        result = compare(runs, interval=method, errors_as_incorrect=errors_as_incorrect)
        if len(result.models) < 2:
            found = ", ".join(result.models) or "no episodes"
            raise ConfigError(
                f"compare needs at least two models; the runs given hold {found}. Pass more run "
                "directories, or a run made with several --model options"
            )
        if json_:
            sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        else:
            render_comparison(result, stdout_console())
