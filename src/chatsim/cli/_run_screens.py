"""What ``chatsim run`` shows around a run: the simulator it chose, a dry run's first
requests, and the end of a failed run."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from chatsim.cli._errors import EXIT_RUN_FAILED
from chatsim.metrics import RunSummary
from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.recording import SimulatorChoice
from chatsim.runner import RunSetup
from chatsim.simulators import UserTurnRequest
from chatsim.targets import TargetRequest

__all__ = ["end_failed", "say_simulator", "show_dry_run"]


def say_simulator(choice: SimulatorChoice | None, console: Console) -> None:
    """The first screen names the simulator and why: a default that made a target play its
    own user changes what the accuracy means and what the run costs."""
    if choice is None:
        return
    fell_back = choice.source == "default" and choice.spec.startswith("prompted:")
    console.print(
        f"simulator: {choice.describe()}",
        style="yellow" if fell_back else None,
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def end_failed(summary: RunSummary, run_dir: Path, console: Console) -> None:
    """A failed run (too many episodes ended in errors) exits ``EXIT_RUN_FAILED``."""
    if summary.failure is None:
        return
    console.print(
        f"run failed ({summary.failure.error_episodes} of {summary.failure.episodes} episodes "
        f"ended in errors); the run directory is complete. Re-run the failed episodes with: "
        f"chatsim run --resume {run_dir} --retry-errors",
        style="red",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_RUN_FAILED)


def show_dry_run(setup: RunSetup, console: Console) -> None:
    plan = setup.plans[0]
    # answer-first and user-alone open with the user answering alone
    alone = setup.config.condition != "direct-to-AI"
    step = SimulatorStep.ALONE if alone else SimulatorStep.FIRST
    request = UserTurnRequest(plan.episode_id, plan.question, (), step, plan.seed)
    console.rule(f"simulator prompt ({setup.config.simulator}), question {plan.question.id}")
    console.print(setup.simulator.describe_prompt(request), markup=False, highlight=False)
    caller = setup.callers[plan.model]
    messages: tuple[Message, ...] = (Message(Role.USER, "<the simulator's first message>"),)
    if setup.config.system_prompt is not None:
        messages = (Message(Role.SYSTEM, setup.config.system_prompt), *messages)
    target_request = TargetRequest(
        messages=messages,
        temperature=setup.config.target_temperature,
        max_tokens=setup.config.target_max_tokens,
        stream=setup.config.stream,
    )
    console.rule(f"first target request ({plan.model})")
    console.print(
        json.dumps(caller.adapter.describe_request(target_request), indent=2, ensure_ascii=False),
        markup=False,
        highlight=False,
    )
    console.rule()
    console.print(
        f"{len(setup.plans)} episodes planned ({len(setup.questions)} questions x "
        f"{setup.config.repeats} repeats x {len(setup.config.models)} models); nothing was sent.",
        markup=False,
    )
