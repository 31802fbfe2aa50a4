"""``chatsim run``: evaluate target models with simulated users."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from chatsim._exceptions import ConfigError, RunDirectoryError
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import EXIT_INTERRUPTED, cli_errors
from chatsim.cli._options import (
    PromptFormatOption,
    SimulatorMaxTokensOption,
    SimulatorOptionOption,
    SimulatorTemperatureOption,
    check_ray,
)

if TYPE_CHECKING:  # the runner, the records and the metrics are imported when a run starts
    from chatsim.runner import RunOutcome, RunSetup

__all__ = ["run_command"]

_Opt = typer.Option


async def _run(
    setup: RunSetup,
    console: Console,
    quiet: bool,
    retry_errors: bool,
    ray: str | None = None,
    workers: int | None = None,
) -> None:
    from chatsim.cli._progress import RichProgress
    from chatsim.runner import execute_run

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
    import anyio

    from chatsim._api import write_summary
    from chatsim._logging import configure_logging, shutdown_logging
    from chatsim.cli._run_screens import end_failed, say_simulator, show_dry_run
    from chatsim.cli._run_setup import config_overrides, prepare
    from chatsim.metrics import render_summary
    from chatsim.runner import RunInterrupted

    console = Console(stderr=True)
    out_console = stdout_console()
    overrides = config_overrides(
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
        check_ray(ray, workers, workers_of="episode workers of a run")
        try:
            setup = prepare(
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
            say_simulator(setup.simulator_choice, console)
            if dry_run:
                show_dry_run(setup, out_console)
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
    end_failed(summary, setup.run_dir, console)
