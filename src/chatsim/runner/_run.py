"""A run: schedule every episode, run them concurrently, record each one as it finishes.

Shape: one task group per run, one task per episode, started as in-flight slots free up (so
100,000 scheduled episodes do not become 100,000 idle tasks). Everything is validated before
the run directory is written, so bad input leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import platform
import signal
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

import anyio

from chatsim._exceptions import AuthenticationError, ChatsimError, ConfigError, RunDirectoryError
from chatsim._logging import bound_ids, get_logger
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim._util._gc import TICK_SECONDS, GcPolicy
from chatsim.questions import Question, load_questions
from chatsim.recording import (
    EPISODES_FILE,
    LOG_FILE,
    EpisodeRecord,
    EpisodeWriter,
    RunHeader,
    create_run_dir,
    open_for_resume,
    read_run,
    run_dir_lock,
)
from chatsim.runner._baseline_step import run_baseline_step
from chatsim.runner._config import RunConfig
from chatsim.runner._episode import EpisodePlan, EpisodeSettings, TurnSource, run_episode
from chatsim.runner._seeds import derive_seed, episode_id
from chatsim.simulators import SimulatorBackend
from chatsim.simulators._registry import SimulatorSettings, create_simulator, open_turn_source
from chatsim.targets import (
    CallerPool,
    CallPolicy,
    TargetCaller,
    TargetSettings,
    endpoint_for,
    parse_model_spec,
)

__all__ = [
    "Progress",
    "RunCrashed",
    "RunInterrupted",
    "RunOutcome",
    "RunSetup",
    "episodes_in_flight",
    "execute_run",
    "package_versions",
    "plan_episodes",
    "prepare_run",
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


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C / SIGTERM); finished episodes are on disk."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        super().__init__(f"run stopped; resume it with: chatsim run --resume {run_dir}")


@dataclass
class RunSetup:
    """Everything a run needs, built and validated before anything is written."""

    config: RunConfig
    run_id: str
    run_dir: Path
    questions: list[Question]
    plans: list[EpisodePlan]
    callers: dict[str, TargetCaller]
    simulator: SimulatorBackend
    clock: Clock
    pool: CallerPool | None = None
    """Owns the callers (several labels may share one); None when callers were given."""
    simulator_settings: SimulatorSettings | None = None
    """How the simulator was built (the batcher in front of a GPU backend reads it)."""
    questions_digest: str | None = None
    """Fingerprint of the selected questions; a resume must select the same ones."""
    resume: bool = False

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
        else:
            for caller in self.callers.values():
                await caller.aclose()
        await self.simulator.aclose()


@dataclass
class RunOutcome:
    """What a finished (or stopped) run left."""

    run_dir: Path
    new_records: list[EpisodeRecord] = field(default_factory=list)
    skipped: int = 0
    """Episodes already recorded by an earlier process (resume)."""
    baseline_records: int = 0
    """AI-alone answers added (``RunConfig.baseline``)."""


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape results, for run headers."""
    found = {"python": platform.python_version()}
    for name in (
        "chatsim",
        "chatsim-openai",
        "openai",
        "anyio",
        "pydantic",
        "transformers",
        "peft",
        "torch",
    ):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def episodes_in_flight(config: RunConfig, simulator: SimulatorBackend) -> int:
    """How many episodes run at once: as configured, or enough to keep every target's slots
    busy (an episode spends part of its time with the simulator) and, for a batched (GPU)
    simulator, two full batches waiting while the targets answer."""
    if config.max_episodes_in_flight is not None:
        return config.max_episodes_in_flight
    for_targets = 2 * config.concurrency * len(config.models)
    for_batches = 2 * simulator.max_batch_size if simulator.batched else 0
    return max(for_targets, for_batches)


def plan_episodes(config: RunConfig, questions: Sequence[Question]) -> list[EpisodePlan]:
    """Question-major order, so every model progresses through the same questions together
    (a stopped run still holds paired results). Seeds do not depend on the model."""
    plans = []
    for question in questions:
        for repeat in range(config.repeats):
            seed = derive_seed(config.seed, question.id, repeat)
            for model in config.models:
                plans.append(
                    EpisodePlan(
                        episode_id(model, question.id, repeat), model, question, repeat, seed
                    )
                )
    return plans


def _build_callers(config: RunConfig, clock: Clock) -> tuple[CallerPool, dict[str, TargetCaller]]:
    """One caller per provider budget: labels that reach the same deployment share it."""
    pool = CallerPool(call_policy(config), clock=clock)
    callers = {}
    for label in config.models:
        spec = parse_model_spec(label)
        settings = TargetSettings(
            base_url=endpoint_for(spec, config.base_url), options=dict(config.target_options)
        )
        callers[label] = pool.get(spec, settings)
    return pool, callers


def call_policy(config: RunConfig) -> CallPolicy:
    """The run's call policy: its concurrency plus any overrides, validated."""
    return CallPolicy(max_concurrency=config.concurrency).with_overrides(config.policy)


def simulator_settings(config: RunConfig, pool: CallerPool | None = None) -> SimulatorSettings:
    """How to build the run's simulator; ``pool`` lets a prompted one share a target's budget."""
    return SimulatorSettings(
        base_url=config.simulator_base_url,
        fallback_base_url=config.base_url,
        policy=call_policy(config),
        pool=pool,
        temperature=config.simulator_temperature,
        max_tokens=config.simulator_max_tokens,
        prompt_format=config.prompt_format,
        concurrency=config.concurrency,
        options=dict(config.simulator_options),
    )


def prepare_run(
    config: RunConfig,
    *,
    out_dir: Path = Path("runs"),
    run_id: str | None = None,
    resume_dir: Path | None = None,
    clock: Clock | None = None,
) -> RunSetup:
    """Validate everything (questions, models, credentials, simulator) and plan the episodes.

    Nothing is written. For a resume, the stored header must match ``config``.
    """
    clock = clock or MonotonicWallClock()
    if resume_dir is not None:
        data = read_run(resume_dir)  # raises RunDirectoryError for non-runs; writes nothing
        if data.header.kind != "evaluate":
            raise RunDirectoryError(
                f"{resume_dir} is a {data.header.kind} run; only evaluation runs can be resumed"
            )
        stored = RunConfig.model_validate(data.header.config)
        _check_resume(stored, config, resume_dir)
        run_id, run_dir = data.header.run_id, Path(resume_dir)
    else:
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        run_dir = Path(out_dir) / run_id
    questions = load_questions(
        config.source, selection=config.selection, limit=config.limit, seed=config.question_seed
    )
    if not questions:
        raise ConfigError(f"no questions selected from {config.source!r}")
    if resume_dir is not None:
        _check_questions(data.header, questions, resume_dir)
    pool, callers = _build_callers(config, clock)
    # Nothing is connected yet (clients connect on first use), so a failure here leaks nothing.
    sim_settings = simulator_settings(config, pool)
    simulator = create_simulator(config.simulator, sim_settings, clock)
    return RunSetup(
        config,
        run_id,
        run_dir,
        questions,
        plan_episodes(config, questions),
        callers,
        simulator,
        clock,
        pool=pool,
        simulator_settings=sim_settings,
        questions_digest=questions_digest(questions),
        resume=resume_dir is not None,
    )


def _check_resume(stored: RunConfig, given: RunConfig, run_dir: Path) -> None:
    old, new = stored.resume_key(), given.resume_key()
    diffs = [
        f"{key}: run has {old[key]!r}, given {new[key]!r}" for key in old if old[key] != new[key]
    ]
    if diffs:
        raise RunDirectoryError(
            f"cannot resume {run_dir}: the configuration differs from the run's header:\n  "
            + "\n  ".join(diffs)
            + "\nresume with the original settings (omit the differing options), or start a new run"
        )


def questions_digest(questions: Sequence[Question]) -> str:
    """A fingerprint of the questions (ids, texts, options, gold) in order."""
    digest = hashlib.blake2b(digest_size=16)
    for q in questions:
        digest.update(q.model_dump_json().encode())
    return digest.hexdigest()


def _check_questions(header: RunHeader, questions: Sequence[Question], run_dir: Path) -> None:
    if header.questions_digest is not None and header.questions_digest != questions_digest(
        questions
    ):
        raise RunDirectoryError(
            f"cannot resume {run_dir}: the selected questions differ from the run's (the "
            "question file or the bundled data changed); start a new run"
        )


def _header(setup: RunSetup) -> RunHeader:
    return RunHeader(
        run_id=setup.run_id,
        created_at=setup.clock.now(),
        config=setup.config.model_dump(mode="json"),
        versions=package_versions(),
        seed=setup.config.seed,
        planned_episodes=len(setup.plans),
        questions_digest=setup.questions_digest,
    )


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
        create_run_dir(setup.run_dir, _header(setup))
    with run_dir_lock(setup.run_dir):  # one writer per run directory
        return await _execute(setup, progress, handle_signals, retry_errors)


async def _execute(
    setup: RunSetup, progress: Progress | None, handle_signals: bool, retry_errors: bool
) -> RunOutcome:
    config = setup.config
    done: set[str] = set()
    if setup.resume:
        recorded = open_for_resume(setup.run_dir).episodes
        done = {r.episode_id for r in recorded if not (retry_errors and r.termination.is_error)}
    todo = [plan for plan in setup.plans if plan.episode_id not in done]
    outcome = RunOutcome(setup.run_dir, skipped=len(setup.plans) - len(todo))
    if progress is not None:
        progress.start(len(setup.plans), outcome.skipped)
    settings = EpisodeSettings.from_config(
        config, run_id=setup.run_id, simulator_spec=config.simulator
    )
    loop = _RunLoop(setup, settings, outcome, progress)
    _log.info("run started", run_dir=str(setup.run_dir), planned=len(setup.plans), todo=len(todo))
    try:
        with bound_ids(run_id=setup.run_id):
            sim_settings = setup.simulator_settings or simulator_settings(config, setup.pool)
            async with open_turn_source(setup.simulator, sim_settings) as source:
                loop.gc.start()  # after the simulator's set-up: its model is frozen too
                await loop.run(todo, source, handle_signals=handle_signals)
    finally:
        loop.gc.stop()
        loop.writer.close()
        _log.info("run ended", recorded=len(outcome.new_records), stopped=bool(loop.stopped_by))
    if loop.auth_errors:
        raise loop.auth_errors[0]
    if loop.crashes:
        plan, error = loop.crashes[0]
        raise RunCrashed(setup.run_dir, plan.episode_id, error) from error
    if loop.stopped_by:
        raise RunInterrupted(setup.run_dir)
    return outcome


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
        self.writer = EpisodeWriter(setup.run_dir / EPISODES_FILE).open()
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
        self.outcome.new_records.append(record)
        if self.progress is not None:
            self.progress.advance(record)
