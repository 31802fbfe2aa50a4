"""The ``chatsim`` command: one typer app; each command lives in its own module."""

from __future__ import annotations

import typer

from chatsim.cli._calibrate import calibrate_command
from chatsim.cli._compare import compare_command
from chatsim.cli._loadtest import loadtest_command
from chatsim.cli._repair import repair_command
from chatsim.cli._report import report_command
from chatsim.cli._run import run_command
from chatsim.cli._sim import sim_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="chatsim",
    help="Evaluate LLM assistants in conversation with simulated users (ChatBench).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Evaluate LLM assistants in conversation with simulated users (ChatBench)."""
    if version:
        from chatsim import __version__

        typer.echo(f"chatsim {__version__}")
        raise typer.Exit()


app.command("run")(run_command)
app.command("report")(report_command)
app.command("compare")(compare_command)
app.command("repair")(repair_command)
app.command("loadtest")(loadtest_command)
app.command("calibrate")(calibrate_command)
app.add_typer(sim_app, name="sim")


def main() -> None:
    """Console-script entry point."""
    app()
