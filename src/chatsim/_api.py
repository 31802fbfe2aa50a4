"""The Python API: ``await chatsim.evaluate(model="gpt-4o", subset="college_math")``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatsim._exceptions import ConfigError, RunFailedError
from chatsim.config import Condition
from chatsim.metrics import GroupSummary, RunSummary
from chatsim.recording import SUMMARY_FILE, EpisodeRecord, read_run, write_json_atomic
from chatsim.report import summarize_run
from chatsim.runner import Progress, RunConfig, execute_run, prepare_run
from chatsim.simulators._registry import choose_simulator

__all__ = ["EvaluationResult", "evaluate", "write_summary"]

_BASELINE_MODES = ("zero_shot", "five_shot", "free_text")


def write_summary(run_dir: Path) -> RunSummary:
    """Recompute the summary from the run's records and store it as ``summary.json``."""
    summary = summarize_run(run_dir)  # with the AI-alone records and question texts
    write_json_atomic(Path(run_dir) / SUMMARY_FILE, summary.model_dump(mode="json"))
    return summary


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate`` returns. Every figure is recomputed from the records on disk."""

    run_dir: Path
    """The run directory (header, episodes.jsonl, summary.json)."""
    summary: RunSummary
    """Accuracy per model, per subject and overall, with question-clustered 95% intervals."""

    @property
    def failed(self) -> bool:
        """Too many episodes ended in errors (``summary.failure`` says which and why).
        ``evaluate`` raises ``RunFailedError`` (carrying this result) rather than returning
        a failed result; a result built from a run directory may still be one."""
        return self.summary.failure is not None

    @property
    def episodes(self) -> list[EpisodeRecord]:
        """Every recorded episode (read from disk)."""
        return read_run(self.run_dir).episodes

    @property
    def models(self) -> list[str]:
        return list(self.summary.models)

    def accuracy(self, model: str | None = None, subject: str | None = None) -> GroupSummary:
        """The accuracy group for one model (default: the only/first one), optionally a subject.

        ``.accuracy``, ``.ci`` (its 95% interval), ``.episodes``, ``.invalid`` ... are on it.
        """
        name = model or self.models[0]
        if name not in self.summary.models:
            raise KeyError(f"no model {name!r} in this run; models: {', '.join(self.models)}")
        group = self.summary.models[name]
        if subject is None:
            return group
        if subject not in group.subjects:
            known = ", ".join(group.subjects)
            raise KeyError(f"no subject {subject!r} for {name}; subjects: {known}")
        return group.subjects[subject]


async def evaluate(
    model: str | Sequence[str],
    subset: str = "chatbench",
    *,
    simulator: str | None = None,
    limit: int | None = None,
    repeats: int = 1,
    seed: int = 0,
    out_dir: str | Path = "runs",
    run_id: str | None = None,
    resume: str | Path | None = None,
    baseline: bool | Sequence[str] = False,
    condition: Condition = "direct-to-AI",
    progress: Progress | None = None,
    ray: str | None = None,
    workers: int | None = None,
    **options: Any,
) -> EvaluationResult:
    """Run ChatBench-style simulated-user conversations and summarise user-AI accuracy.

    ``model`` is one model spec or several (evaluated on the same questions and seeds).
    ``simulator`` defaults to the ChatBench LoRA on a local GPU when one is present, otherwise
    the first model prompted to play the user; which one and why is logged (a warning for the
    fallback), kept in the header and in ``summary.simulator_choice``. The simulator's tokens
    and cost are in ``summary.cost`` beside the targets'. ``options`` are further
    ``RunConfig`` fields (``max_turns``, ``base_url``, ``simulator_base_url``, ``concurrency``,
    ``system_prompt``, ``max_error_share``, ...). ``baseline=True`` also measures each model
    alone (zero-shot, 5-shot, free text); or name the modes. ``condition`` is ChatBench's
    study condition: ``direct-to-AI``, ``answer-first`` (the user answers alone, then with the
    assistant; both answers recorded, ``summary.conditions`` compares them) or ``user-alone``
    (the user answers alone; no target calls). ``ray`` runs the episodes on Ray
    (``chatsim[ray]``): ``"local"``, ``"auto"`` or ``"ray://HOST:PORT"``, with ``workers``
    episode workers (default: one per core).

    Raises ``RunFailedError`` (its ``.result`` holds this function's result) when too many
    episodes ended in errors (``max_error_share``, default 0.2; all failed always fails).
    """
    if ray is not None:  # ray loads only with ray=...
        from chatsim.distributed import check_address

        check_address(ray, workers)
    elif workers is not None:
        raise ConfigError("workers= sets the episode workers of a run on Ray: add ray=...")
    models = (model,) if isinstance(model, str) else tuple(model)
    choice = choose_simulator(simulator, models, flag="simulator=")  # a resume keeps its own
    try:
        config = RunConfig(
            models=models,
            source=subset,
            simulator=choice.spec,
            limit=limit,
            repeats=repeats,
            seed=seed,
            baseline=_BASELINE_MODES if baseline is True else tuple(baseline or ()),
            condition=condition,
            **options,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid evaluate() arguments: {problems}") from None
    setup = prepare_run(
        config,
        out_dir=Path(out_dir),
        run_id=run_id,
        resume_dir=Path(resume) if resume is not None else None,
        simulator_choice=choice,
        on_ray=ray is not None,
    )
    try:
        if ray is not None:
            from chatsim.distributed import execute_run_on_ray

            await execute_run_on_ray(setup, ray=ray, workers=workers, progress=progress)
        else:
            await execute_run(setup, progress=progress)
    finally:
        await setup.aclose()
    result = EvaluationResult(setup.run_dir, write_summary(setup.run_dir))
    if result.failed:
        raise RunFailedError(result)
    return result
