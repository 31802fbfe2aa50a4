"""Executing a run: every planned episode concurrently, each recorded as it finishes.

Shape: one task group per run, one task per episode, started as in-flight slots free up (so
100,000 scheduled episodes do not become 100,000 idle tasks). ``prepare_run`` (``_prepare``)
has validated everything before this writes the run directory.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio

from chatsim._exceptions import AuthenticationError, ChatsimError
from chatsim._logging import bound_ids, get_logger
from chatsim._util._gc import TICK_SECONDS, GcPolicy
from chatsim.config import RunConfig
from chatsim.recording import (
    LOG_FILE,
    EpisodeRecord,
    create_run_dir,
    open_recorded_for_resume,
    run_dir_lock,
)
from chatsim.runner._baseline_step import run_baseline_step
from chatsim.runner._episode import EpisodePlan, EpisodeSettings, run_episode
from chatsim.runner._prepare import RunSetup, run_header, run_simulator_settings
from chatsim.simulators import SimulatorBackend, TurnSource
from chatsim.simulators._registry import open_turn_source

__all__ = [
    "Progress",
    "RunCrashed",
    "RunInterrupted",
    "RunOutcome",
    "episodes_in_flight",
    "execute_run",
]


_log = get_logger("chatsim.runner")


class Progress(Protocol):
    """Receives progress events (the CLI's progress bar, or nothing)."""

    def start(self, total: int, done: int) -> None: ...
    def advance(self, record: EpisodeRecord) -> None: ...


class RunCrashed(ChatsimError):
    """An episode failed in a way no termination reason covers (a bug); the run stopped.

    Finished episodes are on disk; the traceback is in the run's ``log.jsonl``.
    """

    def __init__(self, run_dir: Path, episode_id: str, error: BaseException) -> None:
        self.run_dir = run_dir
        super().__init__(
            f"episode {episode_id} failed unexpectedly ({type(error).__name__}: {error}); the "
            f"run stopped. Details in {run_dir / LOG_FILE}; resume with: "
            f"chatsim run --resume {run_dir}"
        )


class RunInterrupted(ChatsimError):
    """The run was stopped (Ctrl-C / SIGTERM); finished episodes are on disk.

    A ``ChatsimError`` like the rest, so ``except ChatsimError`` sees it; the CLI's ``run``
    catches it before ``cli_errors`` does, to exit 130 with the resume hint.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        super().__init__(f"run stopped; resume it with: chatsim run --resume {run_dir}")


@dataclass
class RunOutcome:
    """What a finished (or stopped) run left."""

    run_dir: Path
    recorded: int = 0
    """Episodes this process recorded (a count: at a million episodes the records stay on
    disk, not in memory)."""
    skipped: int = 0
    """Episodes already recorded by an earlier process (resume)."""
    baseline_records: int = 0
    """AI-alone answers added (``RunConfig.baseline``)."""


def episodes_in_flight(config: RunConfig, simulator: SimulatorBackend) -> int:
    """How many episodes run at once: as configured, or enough to keep every target's slots
    busy (an episode spends part of its time with the simulator) and, for a batched (GPU)
    simulator, two full batches waiting while the targets answer."""
    if config.max_episodes_in_flight is not None:
        return config.max_episodes_in_flight
    for_targets = 2 * config.concurrency * len(config.models)
    for_batches = 2 * simulator.max_batch_size if simulator.batched else 0
    return max(for_targets, for_batches)


async def execute_run(
    setup: RunSetup,
    *,
    progress: Progress | None = None,
    handle_signals: bool = False,
    retry_errors: bool = False,
) -> RunOutcome:
    """Run every planned episode not yet recorded; append each record as it finishes.

    ``retry_errors`` (resume) also re-runs episodes whose record ended in an error (target,
    simulator, timeout); the new record supersedes the old one. Raises
    ``AuthenticationError`` (after stopping the run), ``RunInterrupted`` and ``RunCrashed``.
    """
    if not setup.resume:
        create_run_dir(setup.run_dir, run_header(setup))
    with run_dir_lock(setup.run_dir):  # one writer per run directory
        return await _execute(setup, progress, handle_signals, retry_errors)


async def _execute(
    setup: RunSetup, progress: Progress | None, handle_signals: bool, retry_errors: bool
) -> RunOutcome:
    config = setup.config
    done: set[str] = set()
    if setup.resume:
        # Ids and terminations only: no record is built per episode (``_scan.py``).
        _, recorded = open_recorded_for_resume(setup.run_dir)
        done = recorded.done(retry_errors=retry_errors)
    todo = [plan for plan in setup.plans if plan.episode_id not in done]
    outcome = RunOutcome(setup.run_dir, skipped=len(setup.plans) - len(todo))
    if progress is not None:
        progress.start(len(setup.plans), outcome.skipped)
    settings = EpisodeSettings.from_config(
        config, run_id=setup.run_id, simulator_spec=config.simulator
    )
    loop = _RunLoop(setup, settings, outcome, progress)
    _log.info("run started", run_dir=str(setup.run_dir), planned=len(setup.plans), todo=len(todo))
    _log_simulator(setup)
    try:
        with bound_ids(run_id=setup.run_id):
            sim_settings = setup.simulator_settings or run_simulator_settings(config, setup.pool)
            async with open_turn_source(setup.simulator, sim_settings) as source:
                loop.gc.start()  # after the simulator's set-up: its model is frozen too
                await loop.run(todo, source, handle_signals=handle_signals)
    finally:
        loop.gc.stop()
        loop.writer.close()
        _log.info("run ended", recorded=outcome.recorded, stopped=bool(loop.stopped_by))
    if loop.auth_errors:
        raise loop.auth_errors[0]
    if loop.crashes:
        plan, error = loop.crashes[0]
        raise RunCrashed(setup.run_dir, plan.episode_id, error) from error
    if loop.stopped_by:
        raise RunInterrupted(setup.run_dir)
    return outcome


def _log_simulator(setup: RunSetup) -> None:
    """Name the simulator and why it was chosen: a default that made a target play its own
    user changes what the numbers mean (and what they cost), so it is a warning."""
    choice = setup.simulator_choice
    if choice is None:
        return
    fell_back = choice.source == "default" and choice.spec.startswith("prompted:")
    log = _log.warning if fell_back else _log.info
    log(f"simulator: {choice.describe()}", simulator=choice.spec, source=choice.source)


class _RunLoop:
    """Starts episode tasks as slots free up and records each finished one; then the
    AI-alone baseline, still under the same signal handling."""

    def __init__(
        self,
        setup: RunSetup,
        settings: EpisodeSettings,
        outcome: RunOutcome,
        progress: Progress | None,
    ) -> None:
        self.setup = setup
        self.settings = settings
        self.outcome = outcome
        self.progress = progress
        self.writer = setup.open_writer()
        self.auth_errors: list[AuthenticationError] = []
        self.crashes: list[tuple[EpisodePlan, Exception]] = []
        self.stopped_by: list[int] = []
        self.in_flight = anyio.Semaphore(episodes_in_flight(setup.config, setup.simulator))
        self.gc = GcPolicy(self._failed_attempts)  # full GC passes would stall every reply

    async def run(
        self, todo: list[EpisodePlan], source: TurnSource, *, handle_signals: bool
    ) -> None:
        async with anyio.create_task_group() as outer:
            self._stop = outer.cancel_scope
            if handle_signals:
                outer.start_soon(self._watch_signals)
            outer.start_soon(self._tick_gc)
            async with anyio.create_task_group() as episodes:
                for plan in todo:
                    await self.in_flight.acquire()
                    episodes.start_soon(self._one, plan, source)
            if not (self.auth_errors or self.crashes):
                s = self.setup
                self.outcome.baseline_records = await run_baseline_step(
                    s.config, s.run_dir, s.questions, s.callers
                )
            outer.cancel_scope.cancel()  # all done: stop the signal watcher

    async def _tick_gc(self) -> None:
        while True:
            await anyio.sleep(TICK_SECONDS)
            self.gc.tick()

    def _failed_attempts(self) -> int:
        callers = {id(c): c for c in self.setup.callers.values()}  # a pool shares callers
        return sum(c.stats.attempts - c.stats.succeeded for c in callers.values())

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.stopped_by.append(signum)
                self._stop.cancel()  # in-flight episodes end unrecorded; resume re-runs them
                return

    async def _one(self, plan: EpisodePlan, source: TurnSource) -> None:
        setup = self.setup
        try:
            with bound_ids(episode_id=plan.episode_id):
                record = await run_episode(
                    plan, self.settings, source, setup.callers[plan.model], setup.clock
                )
        except AuthenticationError as exc:
            _log.error("authentication failed; stopping the run", model=plan.model, error=str(exc))
            self.auth_errors.append(exc)
            self._stop.cancel()  # stop the run: no more requests with a refused key
            return
        except Exception as exc:  # a bug, not an outcome: stop cleanly, keep what is recorded
            _log.exception("episode failed unexpectedly; stopping the run")
            self.crashes.append((plan, exc))
            self._stop.cancel()
            return
        finally:
            self.in_flight.release()
        self.writer.append(record)
        self.outcome.recorded += 1
        if self.progress is not None:
            self.progress.advance(record)
