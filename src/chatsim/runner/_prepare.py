"""Preparing a run: validate everything and plan the episodes, before anything is written.

``prepare_run`` turns a ``RunConfig`` into a ``RunSetup`` (questions, episode plans, callers,
simulator); a resume is checked against the stored header (configuration and questions) here,
so bad input never reaches the run directory.
"""

from __future__ import annotations

import hashlib
import platform
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from chatsim._exceptions import ConfigError, RunDirectoryError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim.config import ConversationConfig, RunConfig
from chatsim.questions import Question, load_questions
from chatsim.recording import EPISODES_FILE, EpisodeWriter, RunHeader, SimulatorChoice, read_header
from chatsim.runner._episode import EpisodePlan
from chatsim.runner._seeds import derive_seed, episode_id
from chatsim.simulators import SimulatorBackend
from chatsim.simulators._registry import (
    SimulatorSettings,
    create_remote_simulator,
    create_simulator,
    runs_on_actors,
)
from chatsim.targets import CallerPool, CallPolicy, TargetCaller, build_caller
from chatsim.targets._policy import DEFAULT_MAX_CONCURRENCY

__all__ = [
    "RunSetup",
    "call_policy",
    "package_versions",
    "plan_episodes",
    "prepare_run",
    "questions_digest",
    "run_header",
    "run_simulator_settings",
    "simulator_call_policy",
    "simulator_settings",
]


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
    simulator_choice: SimulatorChoice | None = None
    """Which simulator plays the user and why (recorded in the header, shown first)."""

    def open_writer(self) -> EpisodeWriter:
        """The writer of the run's records, which also keeps the facts sidecar that
        ``chatsim report`` reads at scale (with this run's question texts)."""
        from chatsim.metrics import facts_sidecar, stems_lookup

        stems = stems_lookup({q.id: q.stem for q in self.questions})
        path = self.run_dir / EPISODES_FILE
        return EpisodeWriter(path, sidecars=(facts_sidecar(stems),)).open()

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
        else:
            for caller in self.callers.values():
                await caller.aclose()
        await self.simulator.aclose()


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
    options = config.target_options
    callers = {
        label: build_caller(label, base_url=config.base_url, options=options, pool=pool)
        for label in config.models
    }
    return pool, callers


SIMULATOR_POLICY_PREFIX = "simulator."
"""``--policy simulator.<field>=VALUE`` sets a call-policy field for the simulator's endpoint."""
TARGET_BUDGET_FIELDS = ("max_concurrency", "requests_per_minute", "tokens_per_minute")
"""Policy fields that describe the targets' quota (``--concurrency``, ``--rpm``, ``--tpm``): a
served or prompted simulator on its own endpoint does not inherit them."""


def _split_policy(config: RunConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """``config.policy`` as (the targets' overrides, the simulator's own ``simulator.`` ones)."""
    target: dict[str, Any] = {}
    simulator: dict[str, Any] = {}
    for key, value in config.policy.items():
        if key.startswith(SIMULATOR_POLICY_PREFIX):
            simulator[key.removeprefix(SIMULATOR_POLICY_PREFIX)] = value
        else:
            target[key] = value
    return target, simulator


def call_policy(config: RunConfig) -> CallPolicy:
    """The targets' call policy: the run's concurrency plus any overrides, validated."""
    target, _ = _split_policy(config)
    return CallPolicy(max_concurrency=config.concurrency).with_overrides(target)


def simulator_call_policy(config: RunConfig) -> CallPolicy:
    """The call policy of a served or prompted simulator on its own endpoint.

    Retries and timeouts follow the run's overrides; the targets' budget (``--concurrency``,
    ``--rpm``, ``--tpm``: ``TARGET_BUDGET_FIELDS``) does not: the simulator's endpoint has its
    own quota, and the episodes in flight already bound its calls. Ask for a budget with
    ``--policy simulator.requests_per_minute=600`` (any field, ``simulator.`` prefixed), which
    wins over everything else. A prompted simulator on a target's own deployment shares that
    target's caller, and so its budget, whatever this says (one quota, one budget).
    """
    target, simulator = _split_policy(config)
    inherited = {k: v for k, v in target.items() if k not in TARGET_BUDGET_FIELDS}
    in_flight = config.max_episodes_in_flight or 2 * config.concurrency * len(config.models)
    base = CallPolicy(max_concurrency=max(DEFAULT_MAX_CONCURRENCY, in_flight))
    try:
        return base.with_overrides(inherited).with_overrides(simulator)
    except ConfigError as exc:
        raise ConfigError(f"simulator call policy ({SIMULATOR_POLICY_PREFIX}...): {exc}") from None


def simulator_settings(
    config: ConversationConfig,
    *,
    concurrency: int,
    policy: CallPolicy | None = None,
    pool: CallerPool | None = None,
) -> SimulatorSettings:
    """How to build the simulator of a run or a load test; ``pool`` lets a prompted one share
    a target's budget. Its endpoint is its own (``simulator_base_url``), else the generic
    ``base_url`` where the simulator's model is self-hosted (the guard of ``build_caller``)."""
    return SimulatorSettings(
        base_url=config.simulator_base_url,
        fallback_base_url=config.base_url,
        policy=policy,
        pool=pool,
        temperature=config.simulator_temperature,
        max_tokens=config.simulator_max_tokens,
        prompt_format=config.prompt_format,
        concurrency=concurrency,
        options=dict(config.simulator_options),
    )


def run_simulator_settings(config: RunConfig, pool: CallerPool | None = None) -> SimulatorSettings:
    """A run's simulator settings: the run's concurrency, the simulator's call policy."""
    return simulator_settings(
        config, concurrency=config.concurrency, policy=simulator_call_policy(config), pool=pool
    )


def prepare_run(
    config: RunConfig,
    *,
    out_dir: Path = Path("runs"),
    run_id: str | None = None,
    resume_dir: Path | None = None,
    clock: Clock | None = None,
    simulator_choice: SimulatorChoice | None = None,
    on_ray: bool = False,
) -> RunSetup:
    """Validate everything (questions, models, credentials, simulator) and plan the episodes.

    Nothing is written. For a resume, the stored header must match ``config``. ``on_ray``:
    the run goes to Ray, where an ``hf:`` simulator loads on its own GPU actors, so this
    process only checks its spec and options (``create_remote_simulator``).
    ``simulator_choice`` says why ``config.simulator`` plays the user (``choose_simulator``);
    without it the simulator counts as given in the config. A resume keeps the header's.
    """
    clock = clock or MonotonicWallClock()
    choice = simulator_choice or SimulatorChoice(
        spec=config.simulator, source="given", reason="set in the run's configuration"
    )
    if resume_dir is not None:
        # The header alone (RunDirectoryError for non-runs; writes nothing): the records are
        # scanned once, for their ids, when the run starts (``open_recorded_for_resume``).
        header = read_header(resume_dir)
        stored = header.config
        if not isinstance(stored, RunConfig):
            raise RunDirectoryError(
                f"{resume_dir} is a {header.kind} run; only evaluation runs can be resumed"
            )
        _check_resume(stored, config, resume_dir)
        run_id, run_dir = header.run_id, Path(resume_dir)
        choice = header.simulator_choice or SimulatorChoice(
            spec=stored.simulator, source="resumed", reason="as recorded in the run's header"
        )
    else:
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        run_dir = Path(out_dir) / run_id
    questions = load_questions(
        config.source, selection=config.selection, limit=config.limit, seed=config.question_seed
    )
    if not questions:
        raise ConfigError(f"no questions selected from {config.source!r}")
    if resume_dir is not None:
        _check_questions(header, questions, resume_dir)
    pool, callers = _build_callers(config, clock)
    # Nothing is connected yet (clients connect on first use), so a failure here leaks nothing.
    sim_settings = run_simulator_settings(config, pool)
    if on_ray and runs_on_actors(config.simulator):
        simulator = create_remote_simulator(config.simulator, sim_settings)
    else:
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
        simulator_choice=choice,
    )


def _check_resume(stored: RunConfig, given: RunConfig, run_dir: Path) -> None:
    old, new = stored.resume_key(), given.resume_key()
    diffs = [
        f"{key}: run has {old[key]!r}, given {new[key]!r}" for key in old if old[key] != new[key]
    ]
    diffs += _simulator_option_diffs(stored.simulator_options, given.simulator_options)
    if diffs:
        raise RunDirectoryError(
            f"cannot resume {run_dir}: the configuration differs from the run's header:\n  "
            + "\n  ".join(diffs)
            + "\nresume with the original settings (omit the differing options), or start a new run"
        )


def _option_text(options: dict[str, Any], key: str) -> str:
    return repr(options[key]) if key in options else "it unset"


def _simulator_option_diffs(stored: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """One line per backend option that differs: seed sending, context length, 8-bit loading
    and the rest change the simulated user, so half of every conversation would change."""
    return [
        f"simulator_options.{key}: run has {_option_text(stored, key)}, "
        f"given {_option_text(given, key)}"
        for key in sorted(stored.keys() | given.keys())
        if key not in stored or key not in given or stored[key] != given[key]
    ]


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


def run_header(setup: RunSetup) -> RunHeader:
    return RunHeader(
        run_id=setup.run_id,
        created_at=setup.clock.now(),
        config=setup.config,
        versions=package_versions(),
        seed=setup.config.seed,
        planned_episodes=len(setup.plans),
        questions_digest=setup.questions_digest,
        simulator_choice=setup.simulator_choice,
    )
