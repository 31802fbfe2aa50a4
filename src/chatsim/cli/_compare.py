"""``chatsim compare RUN_DIR [RUN_DIR ...]``: models on the same questions, side by side.

Runs whose set-up differs (simulator, prompt format, turns, questions, seeds, ...) are
refused with exit code 2, naming each difference, unless ``--allow-different FIELD`` allows
it; the allowed differences are then printed first, above every verdict (and are in
``--json`` and ``--html``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from chatsim._exceptions import ConfigError, DataError
from chatsim._util._compared_fields import COMPARED_FIELDS  # the help lists them; no metrics
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import cli_errors

if TYPE_CHECKING:  # the metrics and the report are imported when the command runs
    from chatsim.metrics import Comparison
    from chatsim.metrics._stats import IntervalMethod

__all__ = ["compare_command"]

_Opt = typer.Option


def _print_differences(result: Comparison, console: Console) -> None:
    """The allowed set-up differences, before any table or verdict."""
    if not result.differences:
        return
    console.print(
        Text("These runs differ in their set-up (compared anyway, as asked with "
             "--allow-different); the differences below mix the models with these:",
             style="bold yellow"),
    )  # fmt: skip
    for d in result.differences:
        console.print(Text(f"  ! {d.describe()}", style="yellow"), highlight=False)


def compare_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories; one run with several models is enough.")
    ],
    json_: Annotated[bool, _Opt("--json", help="Print the comparison as JSON.")] = False,
    html: Annotated[
        Path | None, _Opt(help="Also write the comparison as a self-contained HTML page.")
    ] = None,
    allow_different: Annotated[
        list[str] | None,
        _Opt(
            "--allow-different",
            metavar="FIELD",
            help="Compare runs that differ in FIELD anyway (repeatable, or comma-separated; "
            f"'all' for every field): {', '.join(COMPARED_FIELDS)}. The differences are "
            "printed above the verdicts.",
        ),
    ] = None,
    errors_as_incorrect: Annotated[
        bool, _Opt("--errors-as-incorrect", help="Score error terminations as incorrect.")
    ] = False,
) -> None:
    """Paired accuracy differences (with intervals and p-values), verdicts, and latency."""
    from chatsim.metrics import compare_facts, render_comparison
    from chatsim.report import run_facts

    console = Console(stderr=True)
    with cli_errors(console):
        runs = [run_facts(path) for path in run_dirs]  # facts, not records: fine at 1M episodes
        method: IntervalMethod = "cluster_bootstrap"
        result = compare_facts(
            runs,
            interval=method,
            errors_as_incorrect=errors_as_incorrect,
            allow_different=allow_different or (),
        )
        if len(result.models) < 2:
            found = ", ".join(result.models) or "no episodes"
            raise ConfigError(
                f"compare needs at least two models; the runs given hold {found}. Pass more run "
                "directories, or a run made with several --model options"
            )
        if json_:
            sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        else:
            _print_differences(result, stdout_console())
            render_comparison(result, stdout_console())
        if html is not None:
            from chatsim.report import write_comparison_html

            try:
                written = write_comparison_html(result, html)
            except OSError as exc:
                raise DataError(f"cannot write the HTML comparison to {html}: {exc}") from exc
            console.print(f"wrote {written}", markup=False)
