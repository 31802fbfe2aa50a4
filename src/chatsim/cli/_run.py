"""``chatsim run``: evaluate target models with simulated users."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console

from chatsim._api import write_summary
from chatsim._exceptions import ConfigError, RunDirectoryError
from chatsim._logging import configure_logging, shutdown_logging
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, cli_errors
from chatsim.cli._options import (
    PromptFormatOption,
    SimulatorMaxTokensOption,
    SimulatorOptionOption,
    SimulatorTemperatureOption,
    key_values,
)
from chatsim.cli._progress import RichProgress
from chatsim.metrics import RunSummary, render_summary
from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.recording import SimulatorChoice, read_header
from chatsim.runner import (
    RunConfig,
    RunInterrupted,
    RunOutcome,
    RunSetup,
    execute_run,
    prepare_run,
)
from chatsim.simulators import UserTurnRequest
from chatsim.simulators._registry import choose_simulator
from chatsim.targets import TargetRequest

__all__ = ["run_command"]

_Opt = typer.Option


def _config_overrides(**given: Any) -> dict[str, Any]:
    """The options the user actually gave (typer defaults are all None)."""
    return {key: value for key, value in given.items() if value is not None}


# Config fields whose CLI flag has another name.
_FLAGS = {
    "models": "model",
    "source": "subset",
    "target_temperature": "temperature",
    "target_max_tokens": "max-tokens",
}


def _flag(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    return _FLAGS.get(field, field.replace("_", "-"))


def _policy_overrides(pairs: list[str], **named: Any) -> dict[str, Any]:
    """``--policy KEY=VALUE`` pairs plus the named policy flags that were given."""
    found = key_values(pairs, "--policy")
    found.update({k: v for k, v in named.items() if v is not None})
    return found


#: Config fields given as repeatable KEY=VALUE options: on resume they merge onto the header's.
_MERGED_FIELDS = ("simulator_options", "policy")


def build_config(overrides: dict[str, Any], resume: Path | None) -> RunConfig:
    """A new run's config (defaults + options), or the stored config with the options applied.

    On resume, options that differ from the header are kept so that the resume check can say
    exactly what differs. Key-value options (``--simulator-option``, ``--policy``) merge key
    by key onto the stored ones: a resume that gives one option keeps the others as recorded
    (a stored ``seed: false`` does not revert to the default).
    """
    if resume is not None:
        stored = read_header(resume).config
        if not isinstance(stored, RunConfig):
            raise RunDirectoryError(f"{resume} is a load test; only evaluation runs can be resumed")
        values = {**stored.model_dump(mode="json"), **overrides}
        for field in _MERGED_FIELDS:
            if field in overrides:
                values[field] = {**getattr(stored, field), **overrides[field]}
    elif "models" not in overrides:
        raise ConfigError("no model given: pass --model (e.g. --model gpt-4o), or --resume RUN_DIR")
    else:
        values = dict(overrides)
        if "simulator" not in values:  # only now may torch be imported to look for a GPU
            values["simulator"] = choose_simulator(None, overrides["models"]).spec
    try:
        return RunConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"--{_flag(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid options: {problems}") from None


def _say_simulator(choice: SimulatorChoice | None, console: Console) -> None:
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


def _end_failed(summary: RunSummary, run_dir: Path, console: Console) -> None:
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


def _dry_run(setup: RunSetup, console: Console) -> None:
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


async def _run(
    setup: RunSetup,
    console: Console,
    quiet: bool,
    retry_errors: bool,
    ray: str | None = None,
    workers: int | None = None,
) -> None:
    execute: Callable[..., Awaitable[RunOutcome]] = execute_run
    if ray is not None:  # ray loads only here, and only with --ray
        from chatsim.distributed import execute_run_on_ray

        execute = partial(execute_run_on_ray, ray=ray, workers=workers)
    try:
        if quiet:
            await execute(setup, handle_signals=True, retry_errors=retry_errors)
        else:
            with RichProgress(console) as progress:
                await execute(
                    setup, progress=progress, handle_signals=True, retry_errors=retry_errors
                )
    finally:
        await setup.aclose()


def run_command(
    model: Annotated[
        list[str] | None,
        _Opt(
            "--model",
            "-m",
            help="Target model spec; repeat to compare: gpt-4o, azure:<deployment>, vllm:<model>.",
        ),
    ] = None,
    subset: Annotated[
        str | None,
        _Opt(
            "--subset",
            "-s",
            help="Questions: a subset (college_math, math, chatbench, ...), "
            "a CSV/JSONL file, or hf:<mmlu subject>.",
        ),
    ] = None,
    selection: Annotated[
        str | None, _Opt(help="Bundled questions: redux-ok (default), redux, all.")
    ] = None,
    limit: Annotated[int | None, _Opt(help="At most this many questions (seeded sample).")] = None,
    question_seed: Annotated[int | None, _Opt(help="Seed of the question sample.")] = None,
    repeats: Annotated[
        int | None, _Opt(help="Conversations per question and model (paper: 10).")
    ] = None,
    seed: Annotated[int | None, _Opt(help="Run seed (episode seeds derive from it).")] = None,
    simulator: Annotated[
        str | None,
        _Opt(
            help="User simulator: hf:<base>+<adapter>, served:<model>, "
            "prompted:<model spec>, scripted."
        ),
    ] = None,
    simulator_base_url: Annotated[
        str | None, _Opt(help="Endpoint of a served/prompted simulator (default: --base-url).")
    ] = None,
    simulator_temperature: SimulatorTemperatureOption = None,
    simulator_max_tokens: SimulatorMaxTokensOption = None,
    simulator_option: SimulatorOptionOption = None,
    prompt_format: PromptFormatOption = None,
    max_turns: Annotated[
        int | None, _Opt(help="User messages before the answer is forced (default 10).")
    ] = None,
    system_prompt: Annotated[
        str | None, _Opt(help="Assistant system prompt (default: ChatBench's).")
    ] = None,
    temperature: Annotated[float | None, _Opt(help="Assistant temperature (default 0.7).")] = None,
    max_tokens: Annotated[int | None, _Opt(help="Max tokens per assistant reply.")] = None,
    base_url: Annotated[
        str | None, _Opt(help="Target endpoint for vllm:/OpenAI-compatible models.")
    ] = None,
    stream: Annotated[
        bool | None,
        _Opt("--stream/--no-stream", help="Stream replies (default on; needed for TTFT)."),
    ] = None,
    concurrency: Annotated[
        int | None, _Opt(help="Assistant calls in flight per target (default 32).")
    ] = None,
    episodes_in_flight: Annotated[
        int | None,
        _Opt(help="Episodes running at once (default: from --concurrency and the GPU batch)."),
    ] = None,
    episode_timeout: Annotated[
        float | None, _Opt(help="Seconds one episode may take (default 1800).")
    ] = None,
    max_attempts: Annotated[
        int | None, _Opt(help="Attempts per target call, the first included (default 5).")
    ] = None,
    attempt_timeout: Annotated[
        float | None, _Opt(help="Seconds one attempt may take, streaming included (default 120).")
    ] = None,
    rpm: Annotated[
        float | None, _Opt(help="Requests per minute per target (token bucket).")
    ] = None,
    tpm: Annotated[float | None, _Opt(help="Tokens per minute per target (token bucket).")] = None,
    target_option: Annotated[
        list[str] | None,
        _Opt(
            help="Adapter option KEY=VALUE for every target (repeatable), e.g. transport=sdk "
            "(the OpenAI and Gemini adapters' SDK path instead of their fast one)."
        ),
    ] = None,
    policy: Annotated[
        list[str] | None,
        _Opt(
            help="Any call-policy field as KEY=VALUE (repeatable), e.g. backoff_max=10. "
            "simulator.<field>=VALUE sets it for a served/prompted simulator's own endpoint, "
            "e.g. simulator.requests_per_minute=600: --concurrency, --rpm and --tpm budget the "
            "targets only and do not throttle the simulator."
        ),
    ] = None,
    out: Annotated[Path, _Opt(help="Directory that holds run directories.")] = Path("runs"),
    run_id: Annotated[
        str | None, _Opt(help="Name of the run directory (default: timestamp).")
    ] = None,
    resume: Annotated[
        Path | None, _Opt(help="Continue a stopped run: runs only the missing episodes.")
    ] = None,
    retry_errors: Annotated[
        bool,
        _Opt("--retry-errors", help="With --resume: also re-run episodes that ended in an error."),
    ] = False,
    dry_run: Annotated[
        bool,
        _Opt(
            "--dry-run", help="Print the first simulator prompt and target request; send nothing."
        ),
    ] = False,
    baseline: Annotated[
        bool | None,
        _Opt("--baseline", help="Also measure each model alone (zero-shot, 5-shot, free text)."),
    ] = None,
    condition: Annotated[
        str | None,
        _Opt(
            help="ChatBench study condition: direct-to-AI (default), answer-first (the user "
            "answers alone, then with the assistant; both recorded), or user-alone (no "
            "assistant calls)."
        ),
    ] = None,
    max_error_share: Annotated[
        float | None,
        _Opt(
            help="Fail the run (exit 4) when a model has more than this share of its episodes "
            "ended in errors (default 0.2); all failed always fails."
        ),
    ] = None,
    ray: Annotated[
        str | None,
        _Opt(
            help="Run the episodes on Ray (pip install 'chatsim[ray]'): local (a Ray on this "
            "machine; --ray alone means local), auto (this machine's cluster) or ray://HOST:PORT."
        ),
    ] = None,
    workers: Annotated[
        int | None, _Opt(help="With --ray: episode workers (default: one per core).")
    ] = None,
    quiet: Annotated[bool, _Opt("--quiet", "-q", help="No progress bar.")] = False,
    log_level: Annotated[
        str,
        _Opt(help="Console log level (the run's log.jsonl keeps info and up, retries included)."),
    ] = "error",
    json_logs: Annotated[bool, _Opt("--json-logs", help="Log as JSON lines on stderr.")] = False,
) -> None:
    """Run simulated-user conversations against target models and report user-AI accuracy.

    The first line names the simulator and why it was chosen; without --simulator, the
    ChatBench LoRA on a local CUDA GPU, else the first target prompted to play the user.

    Exit codes: 0 success; 1 any other error; 2 bad input, nothing sent; 3 credentials
    refused, run stopped; 4 run failed: a model had more than --max-error-share of its
    episodes end in errors (or all of them); 130 interrupted, resumable.
    """
    console = Console(stderr=True)
    out_console = stdout_console()
    overrides = _config_overrides(
        models=tuple(model) if model else None,
        source=subset,
        selection=selection,
        limit=limit,
        question_seed=question_seed,
        repeats=repeats,
        seed=seed,
        simulator=simulator,
        simulator_base_url=simulator_base_url,
        simulator_temperature=simulator_temperature,
        simulator_max_tokens=simulator_max_tokens,
        prompt_format=prompt_format,
        max_turns=max_turns,
        system_prompt=system_prompt,
        target_temperature=temperature,
        target_max_tokens=max_tokens,
        base_url=base_url,
        stream=stream,
        concurrency=concurrency,
        episode_timeout=episode_timeout,
        max_episodes_in_flight=episodes_in_flight,
        baseline=("zero_shot", "five_shot", "free_text") if baseline else None,
        max_error_share=max_error_share,
        condition=condition,
    )

    resume_hint = {"dir": resume}
    with cli_errors(
        console, hint=lambda: f"resume with: chatsim run --resume {resume_hint['dir']}"
    ):
        configure_logging(None, json=json_logs, level=log_level)  # validates before any output
        _check_ray(ray, workers)
        try:
            setup = _prepare(
                overrides,
                resume,
                out,
                run_id,
                policy,
                simulator_option,
                named={
                    "max_attempts": max_attempts,
                    "attempt_timeout": attempt_timeout,
                    "requests_per_minute": rpm,
                    "tokens_per_minute": tpm,
                },
                target_option=target_option,
                on_ray=ray is not None and not dry_run,
            )
            resume_hint["dir"] = setup.run_dir
            _say_simulator(setup.simulator_choice, console)
            if dry_run:
                _dry_run(setup, out_console)
                anyio.run(setup.aclose)
                return
            if retry_errors and resume is None:
                raise ConfigError(
                    "--retry-errors re-runs a stopped run's failed episodes: add --resume"
                )
            try:
                configure_logging(setup.run_dir, json=json_logs, level=log_level, file_level="info")
            except OSError as exc:
                raise RunDirectoryError(
                    f"cannot write the run directory {setup.run_dir}: {exc}"
                ) from exc
            try:
                anyio.run(_run, setup, console, quiet, retry_errors, ray, workers)
            except RunInterrupted as exc:
                console.print(f"\nstopped. {exc}", markup=False)
                raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            shutdown_logging()  # handlers must not outlive the command (its streams close)
        summary = write_summary(setup.run_dir)
        render_summary(summary, out_console)
        out_console.print(f"run directory: {setup.run_dir}", markup=False)
    _end_failed(summary, setup.run_dir, console)


def _check_ray(ray: str | None, workers: int | None) -> None:
    """``--ray``/``--workers`` are checked (Ray installed, a known address) before anything."""
    if ray is None:
        if workers is not None:
            raise ConfigError("--workers sets the episode workers of a run on Ray: add --ray")
        return
    from chatsim.distributed import check_address

    check_address(ray, workers)


def _prepare(
    overrides: dict[str, Any],
    resume: Path | None,
    out: Path,
    run_id: str | None,
    policy: list[str] | None,
    simulator_option: list[str] | None,
    named: dict[str, Any],
    target_option: list[str] | None = None,
    on_ray: bool = False,
) -> RunSetup:
    """Options -> validated config -> a prepared run (nothing written yet)."""
    policy_overrides = _policy_overrides(policy or [], **named)
    if policy_overrides:
        overrides["policy"] = policy_overrides
    if simulator_option:
        overrides["simulator_options"] = key_values(simulator_option, "--simulator-option")
    if target_option:
        overrides["target_options"] = key_values(target_option, "--target-option")
    choice = None
    if resume is None and "models" in overrides:  # a resume keeps the header's choice
        choice = choose_simulator(overrides.get("simulator"), overrides["models"])
        overrides["simulator"] = choice.spec
    config = build_config(overrides, resume)
    return prepare_run(
        config,
        out_dir=out,
        run_id=run_id,
        resume_dir=resume,
        simulator_choice=choice,
        on_ray=on_ray,
    )
