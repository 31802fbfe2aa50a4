"""The ``chatsim`` command: one typer app; each command lives in its own module.

Each command module imports its back end inside the command (tests/cli/test_cli_start.py):
every ``chatsim ...`` process, a Ray driver too, imports all of them to build the app, and
should pay only for the command it runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from chatsim.cli._calibrate import calibrate_command
from chatsim.cli._compare import compare_command
from chatsim.cli._loadtest import loadtest_command
from chatsim.cli._repair import repair_command
from chatsim.cli._report import report_command
from chatsim.cli._run import run_command
from chatsim.cli._sim import sim_app

__all__ = ["app", "bare_ray", "main"]

_RAY_COMMANDS = ("run", "loadtest")
_LOCAL = "local"  # chatsim.distributed.LOCAL; not imported, which would load the Ray driver


def bare_ray(args: Sequence[str]) -> list[str]:
    """``--ray`` with no value (last, or before another option) as ``--ray local``.

    The issue's ``chatsim run ... --ray``: typer has no options with an optional value, so
    ``run`` and ``loadtest`` command lines are normalised before parsing; ``--ray X`` and
    ``--ray=X`` stay as given, and nothing after ``--`` is touched.
    """
    out = list(args)
    if not out or out[0] not in _RAY_COMMANDS:
        return out
    end = out.index("--") if "--" in out else len(out)
    i = 1
    while i < end:
        if out[i] == "--ray":
            if i + 1 == end or out[i + 1].startswith("-"):
                out.insert(i + 1, _LOCAL)
                end += 1
            i += 1  # past the value
        i += 1
    return out


class _Group(TyperGroup):
    """The root group, reading a bare ``--ray`` as ``--ray local`` (``bare_ray``)."""

    # ctx: typer's private, vendored click Context, not importable from a public module.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, bare_ray(args))


app = typer.Typer(
    name="chatsim",
    cls=_Group,
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
    # pyarrow's default allocator (mimalloc) made a 1M-episode report's first touch of its
    # 0.5 GB of columns 10x slower on a VM (reading the facts: 6.9 s against 0.65 s with the
    # system allocator, and 130 MB more at peak), so the command asks for the system's;
    # pyarrow reads this when imported (later, lazily), and a user's own setting wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    app()
