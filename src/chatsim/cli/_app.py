"""The ``chatsim`` command: one typer app; each command lives in its own module."""

from __future__ import annotations

import importlib

import typer

from chatsim.cli._run import run_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="chatsim",
    help="Evaluate LLM assistants in conversation with simulated users (ChatBench).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run_command)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Evaluate LLM assistants in conversation with simulated users (ChatBench)."""
    if version:
        from chatsim import __version__

        typer.echo(f"chatsim {__version__}")
        raise typer.Exit()


def _mount_optional() -> None:
    """Commands whose modules may import heavier libraries register here, by module name."""
    for module, attr, name in (
        ("chatsim.cli._report", "report_command", "report"),
        ("chatsim.cli._compare", "compare_command", "compare"),
    ):
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        app.command(name)(command)
    try:
        sim_app = importlib.import_module("chatsim.cli._sim").app
    except (ImportError, AttributeError):
        return
    app.add_typer(sim_app, name="sim", help="Check and inspect user simulators.")


_mount_optional()


def main() -> None:
    """Console-script entry point."""
    app()
