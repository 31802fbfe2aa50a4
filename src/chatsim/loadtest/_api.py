"""``await chatsim.loadtest.loadtest("vllm:llama", base_url=..., rate=5, duration=60)``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from chatsim._exceptions import ConfigError, RunDirectoryError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim.config import DEFAULT_SLO_ERROR_RATE, LoadTestConfig, Mode
from chatsim.loadtest._engine import LoadEngine
from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live import LiveView
from chatsim.loadtest._live_stats import LiveStats, ObservedCaller
from chatsim.loadtest._setup import (
    load_call_policy,
    load_header,
    observed_caller,
    simulator_for,
    thinking,
    write_load_summary,
)
from chatsim.loadtest._summary import LoadSummary, Saturation, StageSummary
from chatsim.questions import load_questions
from chatsim.recording import EPISODES_FILE, LOAD_SUMMARY_FILE, EpisodeWriter, create_run_dir
from chatsim.simulators import SimulatorBackend
from chatsim.simulators._registry import SimulatorSettings, open_turn_source
from chatsim.targets import TargetAdapter

__all__ = [
    "LOAD_SUMMARY_FILE",
    "LoadTestResult",
    "loadtest",
    "read_load_summary",
    "run_loadtest",
    "summarize_load_run",
]

"""Written next to ``episodes.jsonl`` (the same name as ``chatsim.report``'s constant)."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class LoadTestResult:
    """What ``loadtest`` returns; ``summary`` is also in ``run_dir / "load_summary.json"``."""

    run_dir: Path
    summary: LoadSummary
    interrupted: bool = False

    @property
    def stages(self) -> list[StageSummary]:
        return self.summary.stages

    @property
    def saturation(self) -> Saturation:
        return self.summary.saturation


def read_load_summary(run_dir: Path | str) -> LoadSummary:
    """The load summary of a load-test run directory."""
    path = Path(run_dir) / LOAD_SUMMARY_FILE
    try:
        return LoadSummary.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise RunDirectoryError(f"{run_dir} has no {LOAD_SUMMARY_FILE}: not a load test") from None
    except ValueError as exc:
        raise RunDirectoryError(f"{path} is damaged: {exc}") from exc


async def run_loadtest(
    config: LoadTestConfig,
    *,
    out_dir: Path = Path("runs"),
    run_id: str | None = None,
    simulator: str | SimulatorBackend | None = None,
    adapter: TargetAdapter | None = None,
    live: Console | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    handle_signals: bool = False,
    ray: str | None = None,
    workers: int | None = None,
) -> LoadTestResult:
    """Run a validated ``config``: everything is checked before the run directory is made.

    ``ray`` (``local``, ``auto`` or ``ray://HOST:PORT``) spreads the load over ``workers`` Ray
    workers (default: one per core); the run directory is the same as in one process."""
    run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    if ray is not None or workers is not None:
        if ray is None:
            raise ConfigError("workers= sets the load generators of a load test on Ray: add ray=")
        if adapter is not None or isinstance(simulator, SimulatorBackend):
            raise ConfigError(
                "on Ray each worker builds its own target and simulator: give them as specs "
                "(model=, simulator=), not as adapter or backend objects"
            )
        from chatsim.loadtest._ray_run import run_loadtest_on_ray

        return await run_loadtest_on_ray(
            config, out_dir=Path(out_dir), run_id=run_id, ray=ray, workers=workers,
            live=live, handle_signals=handle_signals,
        )  # fmt: skip
    clock = clock or MonotonicWallClock()
    questions = load_questions(config.source, selection=config.selection)
    if not questions:
        raise ConfigError(f"no questions selected from {config.source!r}")
    policy = load_call_policy(config)
    stats = LiveStats(window=config.window)
    if adapter is not None:
        caller = ObservedCaller(adapter, policy, clock=clock, stats=stats)
    else:
        caller = observed_caller(config, policy, clock, stats)
    owned = not isinstance(simulator, SimulatorBackend)
    backend, sim_settings = simulator_for(config, simulator or config.simulator, clock)
    run_dir = Path(out_dir) / run_id
    try:
        create_run_dir(run_dir, load_header(config, run_id, clock))
        writer = EpisodeWriter(run_dir / EPISODES_FILE).open()
        try:
            engine = await _run_engine(
                config, run_id, questions, caller, backend, sim_settings, writer.append,
                stats, clock, sleep, live, handle_signals,
            )  # fmt: skip
        finally:
            writer.close()
    finally:
        await caller.aclose()
        if owned:
            await backend.aclose()
    interrupted = engine.interrupted or engine.auth_error is not None
    summary = summarize_load_run(config, run_dir, run_id, engine, interrupted)
    if engine.auth_error is not None:
        raise engine.auth_error
    return LoadTestResult(run_dir, summary, interrupted)


async def _run_engine(
    config: LoadTestConfig,
    run_id: str,
    questions: Sequence[Any],
    caller: ObservedCaller,
    backend: SimulatorBackend,
    sim_settings: SimulatorSettings,
    sink: Callable[[Any], None],
    stats: LiveStats,
    clock: Clock,
    sleep: Sleep | None,
    live: Console | None,
    handle_signals: bool,
) -> LoadEngine:
    async with open_turn_source(backend, sim_settings) as direct:
        source = thinking(direct, config, clock, sleep)
        engine = LoadEngine(
            config, run_id=run_id, simulator_spec=backend.spec or config.simulator,
            questions=questions, caller=caller, source=source, sink=sink, clock=clock,
            stats=stats, sleep=sleep,
        )  # fmt: skip
        lag = LagMonitor(now=clock.now)
        engine.lag = lag
        background = [lag.run]
        if live is not None:
            background.append(LiveView(live, stats, lag, config, clock).run)
        await engine.run(background, handle_signals=handle_signals)
    return engine


def summarize_load_run(
    config: LoadTestConfig,
    run_dir: Path,
    run_id: str,
    engine: LoadEngine,
    interrupted: bool,
) -> LoadSummary:
    """Recompute the summary from the records on disk and write ``load_summary.json``."""
    lag = engine.lag.samples() if engine.lag is not None else None
    return write_load_summary(
        config, run_dir, run_id, engine.stages, engine.stats.samples, lag, interrupted
    )


async def loadtest(
    model: str,
    *,
    base_url: str | None = None,
    simulator: str | SimulatorBackend = "scripted",
    mode: Mode = "open",
    arrival: Literal["poisson", "constant"] = "poisson",
    rate: float | None = None,
    users: int | None = None,
    duration: float | None = None,
    conversations: int | None = None,
    ramp_up: float = 0.0,
    think_time: float = 0.0,
    sweep: Sequence[float] = (),
    slo_ttft_p95: float | None = None,
    slo_e2e_p95: float | None = None,
    slo_error_rate: float | None = DEFAULT_SLO_ERROR_RATE,
    subset: str = "chatbench",
    seed: int = 0,
    out_dir: str | Path = "runs",
    run_id: str | None = None,
    live: bool | Console = False,
    adapter: TargetAdapter | None = None,
    ray: str | None = None,
    workers: int | None = None,
    **options: Any,
) -> LoadTestResult:
    """Load-test ``model`` with simulated users; results go to ``out_dir/<run_id>``.

    Open loop (``mode="open"``): new conversations arrive at ``rate`` per second (Poisson or
    constant, seeded) for ``duration`` seconds and/or until ``conversations`` have started.
    Closed loop (``mode="closed"``): ``users`` users each start a new conversation as their
    last one ends. ``sweep`` runs one stage per rate (or user count) and reports the
    saturation point against the objectives (``slo_ttft_p95``, ``slo_e2e_p95`` in seconds,
    ``slo_error_rate``). ``simulator`` is a spec or a backend object; ``adapter`` replaces the
    adapter ``model`` would create (tests, custom targets). ``live`` shows the live view (on
    stderr, or on the given console). ``ray`` (``"local"``, ``"auto"`` or ``"ray://HOST:PORT"``)
    spreads the load over ``workers`` Ray workers (``pip install 'chatsim[ray]'``), each
    generating an even share and timing its own calls. ``options`` are further
    ``LoadTestConfig`` fields (``think_distribution``, ``max_turns``, ``policy``,
    ``max_in_flight``, ``drain_timeout``, ``bucket``, ...). Raises ``ConfigError`` before
    anything is written for bad input.
    """
    spec = simulator if isinstance(simulator, str) else (simulator.spec or "custom")
    config = LoadTestConfig.build(
        model=model, base_url=base_url, simulator=spec, mode=mode, arrival=arrival, rate=rate,
        users=users, duration=duration, conversations=conversations, ramp_up=ramp_up,
        think_time=think_time, sweep=tuple(sweep), slo_ttft_p95=slo_ttft_p95,
        slo_e2e_p95=slo_e2e_p95, slo_error_rate=slo_error_rate, source=subset, seed=seed,
        **options,
    )  # fmt: skip
    console = live if isinstance(live, Console) else (Console(stderr=True) if live else None)
    return await run_loadtest(
        config,
        out_dir=Path(out_dir),
        run_id=run_id,
        simulator=simulator,
        adapter=adapter,
        live=console,
        ray=ray,
        workers=workers,
    )
