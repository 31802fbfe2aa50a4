"""One place that turns chatsim errors into messages and exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

from chatsim._exceptions import (
    AuthenticationError,
    ChatsimError,
    ConfigError,
    DataError,
    MissingCredentialError,
    QuotaExceededError,
    RunFailedError,
)
from chatsim._util._redact import scrub

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_RUN_FAILED",
    "EXIT_USAGE",
    "NO_KEY_DEMO",
    "cli_errors",
    "say_error",
]

EXIT_ERROR = 1
"""Any other chatsim error (the message says which); also a crashed run (a bug)."""
EXIT_USAGE = 2
"""Bad input: arguments, question files, run directories. Nothing was sent."""
EXIT_AUTH = 3
"""The target refused the credentials; the run stopped early."""
EXIT_RUN_FAILED = 4
"""The run finished but failed: a model had more than ``--max-error-share`` (default 20%) of
its episodes end in errors, or all of them. The summary's first line says why; the run
directory is complete (``--resume DIR --retry-errors`` re-runs the failed episodes)."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C / SIGTERM; finished episodes are recorded."""

EXIT_CODES = {
    0: "success",
    EXIT_ERROR: "any other error",
    EXIT_USAGE: "bad input, nothing sent",
    EXIT_AUTH: "credentials refused, run stopped",
    EXIT_RUN_FAILED: "run failed: too many episodes ended in errors",
    EXIT_INTERRUPTED: "interrupted, resumable",
}
"""Every exit code of ``chatsim run``, as its help lists them."""


NO_KEY_DEMO = (
    "python -m chatsim.testing.server --port 8000 --demo",
    "chatsim run --model vllm:demo --simulator prompted:vllm:demo "
    "--base-url http://127.0.0.1:8000/v1 --subset college_math --limit 5",
)
"""Try chatsim with no key: the loopback server plays user and assistant (README, first run)."""


def _missing_credential(console: Console, exc: MissingCredentialError) -> None:
    """A newcomer's first screen: what to set, and how to try chatsim with no key at all."""
    say_error(console, str(exc))
    server, run = NO_KEY_DEMO
    console.print(
        f"\nSet it (export {exc.variable}=...) and run the same command again.\n"
        "To try chatsim with no key: start the loopback server in another terminal (scripted "
        "replies; nothing leaves this machine)\n"
        f"    {server}\n"
        "and run\n"
        f"    {run}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def say_error(console: Console, message: str) -> None:
    """``error: <message>``, printed literally (no rich markup), secrets scrubbed."""
    console.print(Text.assemble(("error: ", "bold red"), scrub(message)), soft_wrap=True)


@contextmanager
def cli_errors(console: Console, hint: Callable[[], str | None] = lambda: None) -> Iterator[None]:
    """Print a one-line ``error: ...`` (no traceback) and exit with the matching code."""
    try:
        yield
    except AuthenticationError as exc:
        if isinstance(exc, QuotaExceededError):
            say_error(console, f"the provider's quota is spent: {exc}")
            console.print("Restore the quota (or use another key), then resume.", markup=False)
        else:
            say_error(console, f"authentication failed: {exc}")
            console.print("Check the API key and endpoint, then resume the run.", markup=False)
        extra = hint()
        if extra:
            console.print(extra, markup=False)
        raise typer.Exit(EXIT_AUTH) from None
    except MissingCredentialError as exc:
        _missing_credential(console, exc)
        raise typer.Exit(EXIT_USAGE) from None
    except (ConfigError, DataError) as exc:
        say_error(console, str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except RunFailedError as exc:
        say_error(console, str(exc))
        raise typer.Exit(EXIT_RUN_FAILED) from None
    except ChatsimError as exc:
        say_error(console, f"{type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
