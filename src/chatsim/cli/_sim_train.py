"""``chatsim sim data | train | similarity``: make training data, train a LoRA, compare openers.

Registered on ``sim_app`` by ``_sim.py``. The work is in ``chatsim.training``; these functions
parse options, call it inside ``cli_errors`` and print.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatsim.cli._errors import cli_errors

if TYPE_CHECKING:  # chatsim.training is imported when a command runs
    from chatsim.training import SimilarityResult, UserConversation

__all__ = ["data_command", "render_similarity", "similarity_command", "train_command"]

_QUESTIONS_HELP = "Question file for records whose questions are not bundled."
_HUMAN_HELP = (
    "The ChatBench release's conversations instead: a local folder, or `hf` to download "
    "microsoft/ChatBench."
)
_Human = Annotated[str | None, typer.Option("--human", help=_HUMAN_HELP)]
_HumanModel = Annotated[
    str | None,
    typer.Option("--model", help="With --human: only this chatbot model (gpt-4o, llama-3.1-8b)."),
]
_Condition = Annotated[
    str | None,
    typer.Option(help="With --human: only this condition (direct-to-AI, answer-first)."),
]
_Column = Annotated[
    list[str] | None,
    typer.Option(help="With --human: KEY=NAME, a release column or field named differently."),
]


def _human_conversations(
    human: str,
    column: list[str] | None,
    model: str | None,
    condition: str | None,
    console: Console,
) -> tuple[list[UserConversation], dict[str, object]]:
    """The release's conversations, the line saying what was kept and skipped, and its JSON."""
    from chatsim.chatbench import load_human_conversations, parse_column_overrides

    source: str | Path = human if human == "hf" or human.startswith("hf:") else Path(human)
    found = load_human_conversations(
        source, columns=parse_column_overrides(column or []), model=model, condition=condition
    )
    console.print(found.line(), markup=False, highlight=False, soft_wrap=True)
    return found.user_conversations(), found.to_json()


def _one_source(name: str, given: object, human: str | None, extras: Mapping[str, object]) -> None:
    from chatsim._exceptions import ConfigError

    if (given is None) == (human is None):
        raise ConfigError(f"pass either {name} or --human (the ChatBench release), not both")
    used = [flag for flag, value in extras.items() if value]
    if human is None and used:
        raise ConfigError(f"{', '.join(used)} only apply with --human")


def data_command(
    conversations: Annotated[
        Path | None,
        typer.Argument(
            help="A run directory, its episodes.jsonl, or JSONL of {question fields, messages}."
        ),
    ] = None,
    *,
    out: Annotated[Path, typer.Option(help="Directory to write train/heldout/split files.")],
    prompt_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="Prompt format name or file (.json/.toml); a chat format writes "
            "{messages} lines for hosted fine-tuning.",
        ),
    ] = "chatbench-text-v1",
    heldout: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Share of questions held out.")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the question split.")] = 0,
    split: Annotated[
        Path | None, typer.Option(help="Reuse this split.json instead of drawing a new one.")
    ] = None,
    questions: Annotated[Path | None, typer.Option(help=_QUESTIONS_HELP)] = None,
    human: _Human = None,
    model: _HumanModel = None,
    condition: _Condition = None,
    column: _Column = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Turn conversations into training examples (k user messages give k+1), split by question."""
    from chatsim.protocol import get_format, load_format
    from chatsim.questions import load_question_file
    from chatsim.training import load_user_conversations, read_split, write_data

    console = Console(stderr=json_output)
    with cli_errors(console):
        is_file = prompt_format.endswith((".json", ".toml"))
        fmt = load_format(prompt_format) if is_file else get_format(prompt_format)
        extras = {"--model": model, "--condition": condition, "--column": column}
        _one_source("CONVERSATIONS", conversations, human, extras)
        report: dict[str, object] = {}
        if human is not None:
            found, report = _human_conversations(human, column, model, condition, console)
            source = f"ChatBench release {human}"
        else:
            assert conversations is not None  # _one_source checked
            pool = load_question_file(questions) if questions is not None else []
            found, source = (
                load_user_conversations(conversations, questions=pool),
                str(conversations),
            )
        given = read_split(split) if split is not None else None
        summary = write_data(
            found, out, fmt, heldout=heldout, seed=seed, split=given, source=source
        )
    if json_output:
        extra = {"human": report} if report else {}
        typer.echo(json.dumps({**summary.to_json(), **extra}, indent=2))
    else:
        console.print(summary.line())


def train_command(
    data: Annotated[Path, typer.Argument(help="A `chatsim sim data` directory (text format).")],
    base: Annotated[str, typer.Option(help="Base causal LM: hub id or local path.")],
    out: Annotated[Path, typer.Option(help="Where the adapter (and checkpoints/) go.")],
    epochs: Annotated[float, typer.Option(min=0.0)] = 2.0,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Overrides --epochs.")] = None,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 5e-5,
    batch_size: Annotated[int, typer.Option(min=1)] = 4,
    grad_accum: Annotated[int, typer.Option(min=1)] = 1,
    lora_r: Annotated[int, typer.Option(min=1)] = 8,
    lora_alpha: Annotated[int, typer.Option(min=1)] = 32,
    lora_dropout: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.05,
    max_length: Annotated[int, typer.Option(min=8, help="Longer examples are left out.")] = 2048,
    precision: Annotated[str, typer.Option(help="auto, bf16 or fp32.")] = "auto",
    load_in_8bit: Annotated[bool, typer.Option(help="8-bit base (bitsandbytes, GPU).")] = False,
    save_steps: Annotated[int, typer.Option(min=1, help="Checkpoint every N steps.")] = 200,
    seed: Annotated[int, typer.Option()] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUT.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train a LoRA simulator (the model card's recipe by default); load it as hf:BASE+OUT."""
    from chatsim._exceptions import ConfigError
    from chatsim.training import TrainSettings, train_simulator

    console = Console(stderr=json_output)
    with cli_errors(console):
        if precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"--precision must be auto, bf16 or fp32, not {precision!r}")
        settings = TrainSettings(
            r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
            learning_rate=learning_rate, epochs=epochs, max_steps=max_steps,
            batch_size=batch_size, grad_accum=grad_accum, max_length=max_length,
            precision=precision,  # type: ignore[arg-type]  # checked just above
            load_in_8bit=load_in_8bit, seed=seed, save_steps=save_steps, progress=progress,
        )  # fmt: skip
        # Trainer writes its log lines to stdout; keep stdout for the JSON alone.
        quiet = contextlib.redirect_stdout(sys.stderr) if json_output else contextlib.nullcontext()
        with quiet:
            result = train_simulator(data, base, out, settings, resume=resume)
    if json_output:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    before, after = result.heldout_perplexity_before, result.heldout_perplexity_after
    held = (
        f"held-out perplexity {before:.3f} -> {after:.3f}" if math.isfinite(after)
        else "no held-out examples"
    )  # fmt: skip
    console.print(
        f"{result.steps} steps on {result.train_examples} examples; {held}; "
        f"{result.skipped_examples} too long. Use: --simulator hf:{base}+{result.adapter}"
    )


def render_similarity(result: SimilarityResult, *, top: int = 20) -> Table:
    """Means over questions, then the first ``top`` questions."""
    table = Table(
        title="First-prompt similarity (simulated vs real)",
        caption=(
            f"{len(result.questions)} questions scored; mean BLEU {result.bleu:.2f}, "
            f"mean ROUGE-1 {result.rouge1:.3f}; {result.only_simulated} questions without real "
            f"first prompts, {result.only_real} without simulated ones"
        ),
    )
    for name in ("question", "simulated", "real", "BLEU", "ROUGE-1"):
        table.add_column(name, justify="left" if name == "question" else "right")
    for q in result.questions[:top]:
        table.add_row(q.question_id, str(q.simulated), str(q.real), f"{q.bleu:.2f}",
                      f"{q.rouge1:.3f}")  # fmt: skip
    return table


def similarity_command(
    run_dir: Annotated[Path, typer.Argument(help="The run with the simulated conversations.")],
    real: Annotated[
        Path | None,
        typer.Option(help="Real conversations: JSONL of {question fields, messages}, or a run."),
    ] = None,
    questions: Annotated[Path | None, typer.Option(help=_QUESTIONS_HELP)] = None,
    human: _Human = None,
    model: _HumanModel = None,
    condition: _Condition = None,
    column: _Column = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """BLEU and ROUGE-1 of the run's first user prompts against real ones (--real, or the
    ChatBench release's with --human), per question."""
    from chatsim.questions import load_question_file
    from chatsim.training import first_prompt_similarity, first_prompts, load_user_conversations

    console = Console(stderr=json_output)
    with cli_errors(console):
        extras = {"--model": model, "--condition": condition, "--column": column}
        _one_source("--real", real, human, extras)
        pool = load_question_file(questions) if questions is not None else []
        simulated = first_prompts(load_user_conversations(run_dir, questions=pool))
        report: dict[str, object] = {}
        if human is not None:
            real_found, report = _human_conversations(human, column, model, condition, console)
        else:
            assert real is not None  # _one_source checked
            real_found = load_user_conversations(real, questions=pool)
        result = first_prompt_similarity(simulated, first_prompts(real_found))
    if json_output:
        extra = {"human": report} if report else {}
        typer.echo(json.dumps({**result.to_json(), **extra}, indent=2, allow_nan=False))
    else:
        console.print(render_similarity(result))
