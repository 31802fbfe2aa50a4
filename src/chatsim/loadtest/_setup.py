"""What a load test builds before it runs and writes after it, in one process or on Ray: the
target caller, the simulator, the run header, the turn source, the summary on disk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np

from chatsim._util._clock import Clock
from chatsim.config import LoadTestConfig
from chatsim.loadtest._build import build_load_summary
from chatsim.loadtest._extract import extract, iter_episodes
from chatsim.loadtest._live_stats import LiveStats, ObservedCaller, Sample
from chatsim.loadtest._stage import StageRun
from chatsim.loadtest._summary import LoadSummary
from chatsim.loadtest._think import ThinkingTurnSource
from chatsim.recording import LOAD_SUMMARY_FILE, RunHeader, write_json_atomic
from chatsim.runner import package_versions, simulator_settings
from chatsim.simulators import SimulatorBackend, TurnSource
from chatsim.simulators._registry import SimulatorSettings, create_simulator
from chatsim.targets import CallPolicy, build_caller

__all__ = [
    "load_call_policy",
    "load_header",
    "load_simulator_settings",
    "observed_caller",
    "simulator_for",
    "thinking",
    "write_load_summary",
]

Sleep = Callable[[float], Awaitable[None]]


def load_call_policy(config: LoadTestConfig) -> CallPolicy:
    return CallPolicy().with_overrides(config.call_policy())


def observed_caller(
    config: LoadTestConfig, policy: CallPolicy, clock: Clock, stats: LiveStats
) -> ObservedCaller:
    """The one builder: a hosted model's key stays on its provider's endpoint."""
    built = build_caller(
        config.model, base_url=config.base_url, options=config.target_options,
        policy=policy, clock=clock, caller_type=ObservedCaller, stats=stats,
    )  # fmt: skip
    assert isinstance(built, ObservedCaller)
    return built


def load_simulator_settings(config: LoadTestConfig) -> SimulatorSettings:
    # The same settings (and endpoint guard) as a run's simulator: one conversation config.
    return simulator_settings(config, concurrency=config.max_in_flight)


def simulator_for(
    config: LoadTestConfig, given: str | SimulatorBackend, clock: Clock
) -> tuple[SimulatorBackend, SimulatorSettings]:
    """``given`` (a backend: used as it is) or the simulator ``config`` names, and its settings."""
    settings = load_simulator_settings(config)
    if isinstance(given, SimulatorBackend):
        return given, settings
    return create_simulator(config.simulator, settings, clock), settings


def thinking(
    direct: TurnSource, config: LoadTestConfig, clock: Clock, sleep: Sleep | None = None
) -> TurnSource:
    """``direct``, with the user's think time before each later turn when there is one."""
    if config.think_time <= 0:
        return direct
    return ThinkingTurnSource(
        direct, config.think_time, config.think_distribution, clock=clock, sleep=sleep
    )


def load_header(config: LoadTestConfig, run_id: str, clock: Clock) -> RunHeader:
    # Known only when stages are bounded by a count alone; 0 means "open-ended" (duration).
    planned = 0
    if config.duration is None and config.conversations is not None:
        planned = config.conversations * len(config.loads())
    return RunHeader(
        run_id=run_id,
        created_at=clock.now(),
        kind="loadtest",
        config=config,  # readers find its model as header.models
        versions=package_versions(),
        seed=config.seed,
        planned_episodes=planned,
    )


def write_load_summary(
    config: LoadTestConfig,
    run_dir: Path,
    run_id: str,
    stages: Sequence[StageRun],
    samples: Sequence[Sample],
    lag: tuple[np.ndarray, np.ndarray] | None,
    interrupted: bool,
) -> LoadSummary:
    """Recompute the summary from the records on disk and write ``load_summary.json``."""
    conversations, calls = extract(iter_episodes(run_dir))
    summary = build_load_summary(
        config,
        run_id=run_id,
        stages=stages,
        conversations=conversations,
        calls=calls,
        samples=samples,
        lag=lag,
        interrupted=interrupted,
    )
    write_json_atomic(run_dir / LOAD_SUMMARY_FILE, summary.model_dump(mode="json"))
    return summary
