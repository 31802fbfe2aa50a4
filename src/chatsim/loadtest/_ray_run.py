"""``chatsim loadtest --ray``: what one process checks first, the Ray connection, the ``hf:``
simulator actors, the driver's run (``_ray_driver``) and the summary of what ran.

A lost worker ends the run as Ctrl-C does: the summary of what ran is written, marked
interrupted, and the run then fails with the worker's error.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from chatsim._exceptions import AuthenticationError, ConfigError
from chatsim._logging import get_logger
from chatsim._util._clock import MonotonicWallClock
from chatsim.config import LoadTestConfig
from chatsim.distributed._budgets import worker_count
from chatsim.distributed._ray import check_address, connect, schedule_timeout, worker_environment
from chatsim.loadtest._api import LoadTestResult
from chatsim.loadtest._live_stats import LiveStats
from chatsim.loadtest._ray_driver import LoadDriver
from chatsim.loadtest._ray_simulators import free_workers, simulator_actors
from chatsim.loadtest._setup import (
    load_call_policy,
    load_header,
    load_simulator_settings,
    observed_caller,
    simulator_for,
    write_load_summary,
)
from chatsim.questions import load_questions
from chatsim.simulators._registry import create_remote_simulator, runs_on_actors

__all__ = ["run_loadtest_on_ray"]

_log = get_logger("chatsim.loadtest")


async def run_loadtest_on_ray(
    config: LoadTestConfig,
    *,
    out_dir: Path,
    run_id: str,
    ray: str,
    workers: int | None,
    live: Console | None,
    handle_signals: bool,
) -> LoadTestResult:
    """``run_loadtest`` over Ray workers; raises what it raises."""
    check_address(ray, workers)
    place_within = schedule_timeout()  # checked by check_address: a bad value wrote nothing
    await _check(config)
    run_dir = out_dir / run_id
    clock = MonotonicWallClock()
    env_vars = worker_environment([config.model], config.simulator)  # for auto / ray:// only
    with connect(ray, workers, env_vars=env_vars) as cpus:
        async with simulator_actors(config, place_within) as actors:
            count = _worker_count(config, workers or free_workers(cpus, actors))
            driver = LoadDriver(config, run_id, run_dir, count, clock, actors, place_within)
            await driver.run(load_header(config, run_id, clock), live, handle_signals)
    # A lost worker ends the run as Ctrl-C does (the summary of what ran), then fails it.
    interrupted = driver.interrupted or driver.auth_error is not None or driver.failure is not None
    summary = write_load_summary(
        config, run_dir, run_id, driver.stages, driver.stats.live.samples,
        driver.lag.samples(), interrupted,
    )  # fmt: skip
    if driver.auth_error is not None:
        raise AuthenticationError(driver.auth_error)
    if driver.failure is not None:
        raise driver.failure
    return LoadTestResult(run_dir, summary, interrupted)


def _worker_count(config: LoadTestConfig, wanted: int) -> int:
    """``wanted``, but no more workers than the in-flight cap and the target's concurrency have
    slots for (one each at least: ``worker_count``)."""
    budgets = [config.max_in_flight, load_call_policy(config).max_concurrency]
    count = worker_count(wanted, budgets)
    if count < wanted:
        _log.warning(
            "fewer load workers than asked: each needs a call slot", asked=wanted, workers=count
        )
    return count


async def _check(config: LoadTestConfig) -> None:
    """What one process checks before its run directory exists: questions, target, simulator
    (an ``hf:`` one by its spec and options only: its model loads on the actors)."""
    if not load_questions(config.source, selection=config.selection):
        raise ConfigError(f"no questions selected from {config.source!r}")
    clock = MonotonicWallClock()
    caller = observed_caller(config, load_call_policy(config), clock, LiveStats())
    if runs_on_actors(config.simulator):
        backend = create_remote_simulator(config.simulator, load_simulator_settings(config))
    else:
        backend, _ = simulator_for(config, config.simulator, clock)
    await caller.aclose()
    await backend.aclose()
