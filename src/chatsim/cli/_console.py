"""Consoles for command output."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["PIPED_WIDTH", "stdout_console"]

PIPED_WIDTH = 200
"""Width of tables written to a file or a pipe: rich's 80-column default would cut intervals."""


def stdout_console() -> Console:
    """The console for results: the terminal's width, or a wide one when piped."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)
