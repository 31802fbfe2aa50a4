"""The run's progress bar: episodes done/total, accuracy so far, errors."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chatsim.recording import EpisodeRecord

__all__ = ["RichProgress"]


class RichProgress:
    """Implements ``chatsim.runner.Progress`` on a rich progress bar (stderr)."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("[bold]episodes"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("acc {task.fields[accuracy]}"),
            TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task("run", total=None, accuracy="-", errors=0)
        self._answered = 0
        self._correct = 0
        self._errors = 0

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def start(self, total: int, done: int) -> None:
        self._bar.update(self._task, total=total, completed=done)

    def advance(self, record: EpisodeRecord) -> None:
        if record.termination.is_error:
            self._errors += 1
        else:
            self._answered += 1
            self._correct += record.correct
        accuracy = f"{self._correct / self._answered:.1%}" if self._answered else "-"
        self._bar.update(self._task, advance=1, accuracy=accuracy, errors=self._errors)
