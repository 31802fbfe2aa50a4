"""The summary in the terminal: rich tables, compact after a run, complete in ``report``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatsim.metrics._compare import Comparison
from chatsim.metrics._conditions_table import condition_text_table
from chatsim.metrics._summary import RunSummary
from chatsim.metrics._table import (
    ALL,
    TextTable,
    accuracy_text_table,
    baseline_text_table,
    behaviour_text_table,
    comparison_text_tables,
    cost_total_cell,
    latency_cost_text_table,
    recovery_text_table,
)

__all__ = [
    "cost_line",
    "failure_lines",
    "render_comparison",
    "render_summary",
    "simulator_line",
    "simulator_notes",
]


def _print(table: TextTable, console: Console) -> None:
    out = Table(title=table.title, title_justify="left")
    for i, header in enumerate(table.headers):
        out.add_column(header, justify="left" if i < table.left_columns else "right")
    for row in table.rows:
        # Text, not markup: model names such as "vllm:llama:7b" must print as they are.
        cells = [Text(cell) for cell in row]
        out.add_row(*cells, style="bold" if table.left_columns > 1 and row[1] == ALL else None)
    if not table.rows:
        out.add_row(table.empty, *[""] * (len(table.headers) - 1))
    console.print(out)


def render_summary(
    summary: RunSummary, console: Console | None = None, *, details: bool = False
) -> None:
    """Print the summary: accuracy, AI-alone gap, latency and cost, and recovery whenever a
    call failed; ``details`` adds consistency and behaviour (and recovery in any case)."""
    console = console or Console()
    for i, line in enumerate(failure_lines(summary)):  # a failed run says so first
        console.print(Text(line, style="bold red" if i == 0 else "red"), soft_wrap=True)
    sim = simulator_line(summary)
    if sim:
        console.print(Text(sim), soft_wrap=True, highlight=False)
    _print(accuracy_text_table(summary), console)
    if summary.conditions:  # ChatBench's study conditions, reported apart
        _print(condition_text_table(summary), console)
    if summary.baseline:
        _print(baseline_text_table(summary), console)
    if summary.models:
        _print(latency_cost_text_table(summary), console)
        if details:
            _print(behaviour_text_table(summary), console)
        if details or _had_failures(summary):
            _print(recovery_text_table(summary), console)
        console.print(Text(cost_line(summary)), soft_wrap=True, highlight=False)
    for note in [*summary.notes, *simulator_notes(summary)]:
        console.print(Text(f"• {note}", style="dim"), highlight=False)
    if details:
        console.print(Text(f"• prices: {summary.price_source}", style="dim"), highlight=False)


def failure_lines(summary: RunSummary) -> list[str]:
    """A failed run's verdict (first line) and its dominant error kinds; empty if it passed."""
    failure = summary.failure
    if failure is None:
        return []
    lines = [f"✗ {failure.message}"]
    for kind in failure.kinds:
        lines.append(f"  {kind.kind} × {kind.episodes}, e.g. {kind.example!r}")
    return lines


def simulator_line(summary: RunSummary) -> str | None:
    """``simulator: <spec> (<why it was chosen>)``; None when no episode names one."""
    if summary.simulator_choice is not None:
        return f"simulator: {summary.simulator_choice.describe()}"
    if summary.simulators:
        return f"simulator: {', '.join(summary.simulators)}"
    return None


def cost_line(summary: RunSummary) -> str:
    """The run's estimated cost, the simulator's beside the targets'."""
    c = summary.cost
    return (
        f"estimated cost: targets {cost_total_cell(c.target)} + simulator "
        f"{cost_total_cell(c.simulator)} = {cost_total_cell(c.total)}"
    )


def simulator_notes(summary: RunSummary) -> list[str]:
    """Notes on the simulated user worth reading next to the numbers (context trimming,
    resampled empty turns)."""
    notes = []
    for name, model in summary.models.items():
        sim = model.simulator
        if sim.context_trimmed_turns:
            notes.append(
                f"{name}: {sim.context_trimmed_turns} of {sim.user_turns} simulator prompts "
                f"({sim.context_trimmed_episodes} episodes) were shortened to fit its context"
            )
        if sim.empty_turns_resampled:
            notes.append(f"{name}: {sim.empty_turns_resampled} empty user turns were resampled")
    return notes


def _had_failures(summary: RunSummary) -> bool:
    return any(
        m.recovery.failed_attempts or m.recovery.simulator_failed_attempts
        for m in summary.models.values()
    )


def render_comparison(comparison: Comparison, console: Console | None = None) -> None:
    """Print accuracy and latency side by side, the paired differences and their verdicts."""
    console = console or Console()
    for table in comparison_text_tables(comparison):
        _print(table, console)
    for pair in comparison.pairs:
        console.print(f"• {pair.verdict}", highlight=False, markup=False)
