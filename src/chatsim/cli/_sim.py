"""``chatsim sim``: commands about the simulated user (mounted by the CLI as a sub-app)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatsim.cli._errors import cli_errors
from chatsim.cli._sim_train import data_command, similarity_command, train_command

if TYPE_CHECKING:  # the simulators are imported when a command runs
    from chatsim.simulators._sim_check import SimCheckResult

__all__ = ["check_command", "render_check", "sim_app"]

sim_app = typer.Typer(
    name="sim",
    help="Check, train and compare the simulated user.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@sim_app.callback()
def _sim() -> None:
    """Check, train and compare the simulated user."""


sim_app.command("data")(data_command)
sim_app.command("train")(train_command)
sim_app.command("similarity")(similarity_command)


def render_check(result: SimCheckResult) -> Table:
    """The scores as a rich table, best format first."""
    with_base = any(s.base_perplexity is not None for s in result.scores)
    table = Table(
        title=f"Simulator fit of user turns: {result.simulator}",
        caption=(
            f"{result.conversations} conversations; lower perplexity = better fit"
            + (f"; {result.skipped_turns} turns too long to score" if result.skipped_turns else "")
        ),
    )
    table.add_column("format")
    table.add_column("turns", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("NLL/token", justify="right")
    table.add_column("perplexity", justify="right")
    if with_base:
        table.add_column("base model", justify="right")
    for rank, score in enumerate(result.scores):
        name = f"{score.format} (v{score.version})" + (" ★ best" if rank == 0 else "")
        row = [
            name,
            str(score.turns),
            str(score.tokens),
            f"{score.mean_nll:.3f}",
            f"{score.perplexity:.3f}" if math.isfinite(score.perplexity) else "n/a",
        ]
        if with_base:
            base = score.base_perplexity
            row.append(f"{base:.3f}" if base is not None else "")
        table.add_row(*row, style="bold" if rank == 0 else None)
    return table


@sim_app.command("check")
def check_command(
    conversations: Annotated[
        Path,
        typer.Argument(
            help="JSONL of conversations: a run's episodes.jsonl, or {question fields, messages}."
        ),
    ],
    simulator: Annotated[
        str,
        typer.Option(help="The local simulator, hf:<base>+<adapter> (default: the card's)."),
    ] = "hf:",
    format_files: Annotated[
        list[Path] | None,
        typer.Option("--format", help="Also score this format file (.json/.toml); repeatable."),
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(help="Question file for run records whose questions are not bundled."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Score at most this many conversations.")
    ] = None,
    with_base: Annotated[
        bool, typer.Option(help="Also score the base model (adapter off), as the card does.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per forward pass.")] = 8,
    context_tokens: Annotated[
        int, typer.Option(help="Context the adapter was trained with.")
    ] = 2048,
    dtype: Annotated[str | None, typer.Option(help="bf16, fp16 or fp32.")] = None,
    load_in_8bit: Annotated[bool, typer.Option(help="Load the base in 8 bits.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score the simulator's perplexity of real user turns under each prompt format."""
    console = Console(stderr=json_output)
    with cli_errors(console):
        result = run_check(
            conversations,
            simulator=simulator,
            format_files=format_files,
            questions=questions,
            limit=limit,
            with_base=with_base,
            batch_size=batch_size,
            context_tokens=context_tokens,
            dtype=dtype,
            load_in_8bit=load_in_8bit,
        )
    if json_output:
        typer.echo(json.dumps(result.to_json(), indent=2, allow_nan=False, default=str))
    else:
        console.print(render_check(result))


def run_check(
    conversations: Path,
    *,
    simulator: str = "hf:",
    format_files: list[Path] | None = None,
    questions: Path | None = None,
    limit: int | None = None,
    with_base: bool = False,
    batch_size: int = 8,
    context_tokens: int = 2048,
    dtype: str | None = None,
    load_in_8bit: bool = False,
) -> SimCheckResult:
    """What ``chatsim sim check`` does, as a function (blocking; loads the model)."""
    from chatsim._exceptions import ConfigError
    from chatsim.protocol import get_format, list_formats
    from chatsim.questions import load_question_file
    from chatsim.simulators._hf import create_hf_simulator
    from chatsim.simulators._hf_options import HFOptions
    from chatsim.simulators._hf_prompt import resolve_text_format
    from chatsim.simulators._sim_check import load_conversations, score_formats

    kind, _, rest = simulator.partition(":")
    if kind != "hf":
        raise ConfigError(
            f"sim check scores a local model: use --simulator hf:<base>+<adapter>, "
            f"not {simulator!r}"
        )
    formats = [get_format(n) for n in list_formats() if get_format(n).kind == "text"]
    formats += [resolve_text_format(str(path)) for path in format_files or []]
    pool = load_question_file(questions) if questions is not None else []
    found = load_conversations(conversations, questions=pool, limit=limit)
    options = HFOptions(
        context_tokens=context_tokens, dtype=dtype, load_in_8bit=load_in_8bit, max_new_tokens=1
    )
    sim = create_hf_simulator(rest, options)
    return score_formats(
        sim.engine,
        found,
        formats,
        simulator=sim.spec,
        batch_size=batch_size,
        with_base=with_base,
    )
