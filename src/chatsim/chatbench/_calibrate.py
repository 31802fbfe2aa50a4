"""``calibrate(run_dir, human)``: per-question simulated against human accuracy.

The run's episodes give simulated accuracy per question (episodes that ended in errors are
left out, as ``chatsim report`` does by default). The release gives human accuracy in the
matching condition and for the matching assistant model, and the two baselines: AI-alone
accuracy (the run's own baseline records where present, else the release's) and user-alone
accuracy. Each is compared with human accuracy over the questions both have.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Literal

from chatsim._exceptions import ConfigError, DataError
from chatsim.chatbench._agreement import DEFAULT_RESAMPLES, DEFAULT_SEED, Agreement, agreement
from chatsim.chatbench._columns import DEFAULT_COLUMNS, ReleaseColumns
from chatsim.chatbench._ids import IdMapping
from chatsim.chatbench._models import resolve_human_model
from chatsim.chatbench._release import ChatBenchRelease, load_release
from chatsim.chatbench._result import Calibration, CalibrationResult, QuestionPoint
from chatsim.chatbench._split import read_heldout
from chatsim.recording import BASELINE_RECORDS, EpisodeRecord, read_run

__all__ = ["DIRECT_TO_AI", "USER_ALONE", "calibrate"]

DIRECT_TO_AI = "direct-to-AI"
USER_ALONE = "user-alone"
_BASELINE_MODE = {
    "letter_only_zero_shot": "zero_shot",
    "letter_only_few_shot": "five_shot",
    "free_text": "free_text",
}

Means = dict[str, tuple[float, int]]  # chatsim id -> (accuracy, how many answers)


def _means(pairs: Iterable[tuple[str | None, float]]) -> Means:
    sums: dict[str, list[float]] = defaultdict(list)
    for qid, value in pairs:
        if qid is not None:
            sums[qid].append(value)
    return {q: (sum(v) / len(v), len(v)) for q, v in sums.items()}


def _condition(episode: EpisodeRecord, default: str) -> str:
    # Conditions are a newer field of records and headers; older runs are direct-to-AI.
    return str(getattr(episode, "condition", None) or default)


def _human(release: ChatBenchRelease, ids: IdMapping, model: str, condition: str) -> Means:
    if condition == USER_ALONE:
        rows = (a for a in release.answers if a.kind == "user-alone")
    else:
        rows = (
            a
            for a in release.answers
            if a.kind == "user-AI" and a.model == model and a.condition == condition
        )
    return _means((ids.get(a.question_id), float(a.correct)) for a in rows)


def _ai_alone(run_dir: Path, release: ChatBenchRelease, ids: IdMapping, run_model: str,
              human_model: str) -> tuple[Means, Literal["run", "release", "none"]]:  # fmt: skip
    mode = _BASELINE_MODE[release.columns.ai_alone_method]
    recs = [r for _, r in BASELINE_RECORDS.read(run_dir) if r.model == run_model]
    own = [(r.question_id, float(r.correct)) for r in recs if r.mode == mode and not r.error]
    if own:
        return _means(own), "run"
    pairs = [
        (ids.get(a.question_id), a.accuracy) for a in release.ai_alone if a.model == human_model
    ]
    return _means(pairs), ("release" if pairs else "none")


Score = Callable[[str, list[float], list[float]], Agreement]
_PREDICTORS = (("simulated", "simulated"), ("ai-alone", "ai_alone"), ("user-alone", "user_alone"))


def _points(episodes: list[EpisodeRecord], human: Means, ai_alone: Means, user_alone: Means,
            keep: frozenset[str] | None) -> list[QuestionPoint]:  # fmt: skip
    subjects = {ep.question_id: ep.subject for ep in episodes}
    simulated = _means((ep.question_id, float(ep.correct)) for ep in episodes)
    points = []
    for qid, (acc, n) in sorted(human.items()):
        if keep is not None and qid not in keep:
            continue
        sim, count = simulated.get(qid, (None, 0))
        points.append(
            QuestionPoint(
                question_id=qid,
                subject=subjects.get(qid, qid.rsplit("-", 2)[0]),
                human=acc,
                human_answers=n,
                simulated=sim,
                episodes=count,
                ai_alone=ai_alone[qid][0] if qid in ai_alone else None,
                user_alone=user_alone[qid][0] if qid in user_alone else None,
            )
        )
    return points


def _rows(points: list[QuestionPoint], condition: str, score: Score) -> list[Agreement]:
    rows = []
    for name, attr in _PREDICTORS:
        if name == "user-alone" and condition == USER_ALONE:
            continue  # user-alone accuracy is the target itself
        pairs = [(v, p.human) for p in points if (v := getattr(p, attr)) is not None]
        rows.append(score(name, [v for v, _ in pairs], [h for _, h in pairs]))
    return rows


def _groups(
    episodes: list[EpisodeRecord], default: str
) -> dict[tuple[str, str], list[EpisodeRecord]]:
    groups: dict[tuple[str, str], list[EpisodeRecord]] = defaultdict(list)
    for ep in episodes:
        if not ep.termination.is_error:
            groups[(ep.model, _condition(ep, default))].append(ep)
    return groups


def calibrate(
    run_dir: Path | str,
    human: str | Path | ChatBenchRelease,
    *,
    model_map: dict[str, str] | None = None,
    split: Path | str | None = None,
    columns: ReleaseColumns = DEFAULT_COLUMNS,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> CalibrationResult:
    """Calibrate a run against the ChatBench release (a folder, ``hf``, or one loaded)."""
    run = read_run(run_dir)
    release = human if isinstance(human, ChatBenchRelease) else load_release(human, columns=columns)
    ids = IdMapping(release.question_ids)
    for rid in {a.question_id for a in release.answers} | {a.question_id for a in release.ai_alone}:
        ids.get(rid)
    keep = read_heldout(split, ids) if split is not None else None
    default = str(getattr(run.header.config, "condition", None) or DIRECT_TO_AI)
    groups = _groups(run.episodes, default)
    if not groups:
        raise DataError(f"{run.path} has no finished episodes to calibrate (all ended in errors?)")
    score: Score = partial(agreement, resamples=resamples, seed=seed, confidence=confidence)
    user_alone = _human(release, ids, "", USER_ALONE)
    tables: list[Calibration] = []
    skipped: dict[str, str] = {}
    for (run_model, condition), episodes in sorted(groups.items()):
        human_model = resolve_human_model(run_model, model_map)
        if human_model is None or human_model not in release.models:
            skipped[run_model] = (
                f"maps to {human_model!r}, not a model of the release"
                if human_model
                else "no known release model"
            )
            continue
        target = _human(release, ids, human_model, condition)
        ai = _ai_alone(run.path, release, ids, run_model, human_model)
        points = _points(episodes, target, ai[0], user_alone, keep)
        tables.append(
            Calibration(
                run_model=run_model,
                human_model=human_model,
                condition=condition,
                ai_alone_source=ai[1],
                rows=_rows(points, condition, score),
                points=points,
            )
        )
    if not tables:
        shown = ", ".join(f"{m} ({why})" for m, why in skipped.items())
        raise ConfigError(
            f"no model of the run matches a model of the release ({', '.join(release.models)}):"
            f" {shown}; pass --model-map RUN_MODEL=HUMAN_MODEL"
        )
    return CalibrationResult(
        run_dir=str(run.path), release=str(release.root), answers_file=str(release.answers_file),
        split=None if split is None else str(split), heldout=None if keep is None else len(keep),
        tables=tables, skipped_models=skipped, unmapped_ids=dict(sorted(ids.unmapped.items())),
        resamples=resamples, seed=seed, confidence=confidence,
    )  # fmt: skip
