"""``chatsim loadtest``: load-test an assistant with simulated users (mounted by ``_app``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from chatsim._exceptions import ConfigError
from chatsim.cli._console import stdout_console
from chatsim.cli._errors import EXIT_INTERRUPTED, cli_errors
from chatsim.cli._options import (
    PromptFormatOption,
    SimulatorMaxTokensOption,
    SimulatorOptionOption,
    SimulatorTemperatureOption,
    check_ray,
    key_values,
)

if TYPE_CHECKING:  # chatsim.loadtest (~0.2 s: the runner, aiohttp) is imported when it runs
    from chatsim.loadtest import LoadTestResult

__all__ = ["loadtest_command", "parse_sweep"]

_Opt = typer.Option


def parse_sweep(text: str | None) -> tuple[float, ...]:
    """``"1,2,4"`` (or spaces) -> ``(1.0, 2.0, 4.0)``; ``ConfigError`` names a bad value."""
    if not text:
        return ()
    values = []
    for part in text.replace(",", " ").split():
        try:
            values.append(float(part))
        except ValueError:
            raise ConfigError(
                f"--sweep: {part!r} is not a number; give loads like --sweep 1,2,4,8"
            ) from None
    return tuple(values)


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def loadtest_command(
    model: Annotated[
        str | None, _Opt("--model", "-m", help="Target model spec: vllm:<model>, gpt-4o, ...")
    ] = None,
    base_url: Annotated[str | None, _Opt(help="Target endpoint (OpenAI-compatible).")] = None,
    mode: Annotated[
        str, _Opt(help="open: arrivals at --rate; closed: --users users back to back.")
    ] = "open",
    rate: Annotated[float | None, _Opt(help="Open loop: new conversations per second.")] = None,
    users: Annotated[int | None, _Opt(help="Closed loop: concurrent users.")] = None,
    sweep: Annotated[
        str | None, _Opt(help="Loads to run one stage each, e.g. 1,2,4,8 (rates or users).")
    ] = None,
    duration: Annotated[float | None, _Opt(help="Seconds of arrivals per stage.")] = None,
    conversations: Annotated[
        int | None, _Opt(help="Conversations per stage (with --duration: first reached).")
    ] = None,
    ramp_up: Annotated[float | None, _Opt(help="Seconds to ramp each stage up.")] = None,
    arrival: Annotated[
        str | None, _Opt(help="Open-loop arrivals: poisson (default) or constant.")
    ] = None,
    think_time: Annotated[
        float | None, _Opt(help="Seconds between a reply and the user's next turn.")
    ] = None,
    think_distribution: Annotated[
        str | None, _Opt(help="fixed (default) or exponential think time.")
    ] = None,
    slo_ttft_p95: Annotated[
        float | None, _Opt(help="Objective: p95 time to first token, seconds.")
    ] = None,
    slo_e2e_p95: Annotated[
        float | None, _Opt(help="Objective: p95 end-to-end latency per turn, seconds.")
    ] = None,
    slo_error_rate: Annotated[
        float | None, _Opt(help="Objective: largest share of failed conversations (0.01).")
    ] = None,
    slo_basis: Annotated[
        str | None, _Opt(help="Judge latency from the scheduled time (default) or the send.")
    ] = None,
    simulator: Annotated[
        str | None, _Opt(help="User simulator (default: scripted, no model needed).")
    ] = None,
    simulator_base_url: Annotated[
        str | None, _Opt(help="Endpoint of a served/prompted simulator.")
    ] = None,
    simulator_temperature: SimulatorTemperatureOption = None,
    simulator_max_tokens: SimulatorMaxTokensOption = None,
    simulator_option: SimulatorOptionOption = None,
    prompt_format: PromptFormatOption = None,
    subset: Annotated[str | None, _Opt("--subset", "-s", help="Questions (chatbench).")] = None,
    seed: Annotated[int | None, _Opt(help="Seed of arrivals, questions, think times.")] = None,
    max_turns: Annotated[int | None, _Opt(help="User messages before the answer.")] = None,
    max_tokens: Annotated[int | None, _Opt(help="Max tokens per assistant reply.")] = None,
    stream: Annotated[bool | None, _Opt("--stream/--no-stream", help="Stream replies.")] = None,
    max_in_flight: Annotated[
        int | None, _Opt(help="Open loop: most conversations at once (10000).")
    ] = None,
    drain_timeout: Annotated[
        float | None, _Opt(help="Seconds to let a stage's conversations finish (60).")
    ] = None,
    max_attempts: Annotated[
        int | None, _Opt(help="Attempts per target call (default 1: no retries).")
    ] = None,
    out: Annotated[Path, _Opt(help="Directory that holds run directories.")] = Path("runs"),
    run_id: Annotated[str | None, _Opt(help="Name of the run directory.")] = None,
    ray: Annotated[
        str | None,
        _Opt(
            help="Generate the load on Ray workers (pip install 'chatsim[ray]'): local (a Ray "
            "on this machine; --ray alone means local), auto (this machine's cluster) or ray://HOST:PORT."
        ),
    ] = None,
    workers: Annotated[
        int | None, _Opt(help="With --ray: load workers (default: one per core).")
    ] = None,
    quiet: Annotated[bool, _Opt("--quiet", "-q", help="No live view.")] = False,
) -> None:
    """Load-test a target with simulated users: throughput, latency, goodput, saturation."""
    import anyio

    from chatsim.loadtest import LoadTestConfig, render_load_summary, run_loadtest

    console = Console(stderr=True)
    out_console = stdout_console()
    with cli_errors(console):
        if model is None:
            raise ConfigError("no model given: pass --model (e.g. --model vllm:llama)")
        check_ray(ray, workers, workers_of="load workers of a load test")
        config = LoadTestConfig.build(
            model=model,
            mode=mode,
            sweep=parse_sweep(sweep),
            policy=_given(max_attempts=max_attempts),
            **_given(
                base_url=base_url,
                rate=rate,
                users=users,
                duration=duration,
                conversations=conversations,
                ramp_up=ramp_up,
                arrival=arrival,
                think_time=think_time,
                think_distribution=think_distribution,
                slo_ttft_p95=slo_ttft_p95,
                slo_e2e_p95=slo_e2e_p95,
                slo_error_rate=slo_error_rate,
                slo_basis=slo_basis,
                simulator=simulator,
                simulator_base_url=simulator_base_url,
                simulator_temperature=simulator_temperature,
                simulator_max_tokens=simulator_max_tokens,
                simulator_options=(
                    key_values(simulator_option, "--simulator-option") if simulator_option else None
                ),
                prompt_format=prompt_format,
                source=subset,
                seed=seed,
                max_turns=max_turns,
                target_max_tokens=max_tokens,
                stream=stream,
                max_in_flight=max_in_flight,
                drain_timeout=drain_timeout,
            ),
        )
        result: LoadTestResult = anyio.run(
            lambda: run_loadtest(
                config,
                out_dir=out,
                run_id=run_id,
                live=None if quiet else console,
                handle_signals=True,
                ray=ray,
                workers=workers,
            )
        )
        render_load_summary(result.summary, out_console)
        out_console.print(f"run directory: {result.run_dir}", markup=False)
        if result.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
