"""Everything a report reads from a run directory, read once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatsim._exceptions import ChatsimError, RunDirectoryError
from chatsim.baseline import read_baseline
from chatsim.config import DEFAULT_MAX_ERROR_SHARE, ConversationConfig
from chatsim.judge import current_judgements, read_judge
from chatsim.metrics._cost import PriceTable
from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, IntervalMethod
from chatsim.metrics._summary import RunSummary, summarize
from chatsim.questions import Question
from chatsim.recording import (
    LOAD_SUMMARY_FILE,
    BaselineRecord,
    EpisodeRecord,
    JudgeRecord,
    RunData,
    read_run,
)

__all__ = ["ReportData", "load_report_data", "summarize_run"]


@dataclass(frozen=True)
class ReportData:
    """A run plus what reports add to it: AI-alone records, question texts, load summary."""

    run: RunData
    baseline: list[BaselineRecord] = field(default_factory=list)
    questions: dict[str, Question] = field(default_factory=dict)
    """Question id -> question, where it could be found offline (for the viewer and copying)."""
    load_summary: dict[str, Any] | None = None
    judge: list[JudgeRecord] = field(default_factory=list)
    """Judge scores (``judge.jsonl``), kept apart from accuracy."""

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def episodes(self) -> list[EpisodeRecord]:
        return self.run.episodes

    @property
    def stems(self) -> dict[str, str]:
        return {qid: q.stem for qid, q in self.questions.items()}


def _bundled_questions(subjects: Iterable[str]) -> list[Question]:
    from chatsim.questions import CHATBENCH_SUBJECTS, load_questions

    out: list[Question] = []
    for subject in subjects:
        if subject in CHATBENCH_SUBJECTS:  # bundled: offline and cheap
            out += load_questions(subject, selection="all")
    return out


def find_questions(
    episodes: Sequence[EpisodeRecord], config: ConversationConfig | Mapping[str, Any]
) -> dict[str, Question]:
    """The run's questions, looked up offline: bundled subjects, or the run's question file.

    Best effort: a question file that has moved simply leaves its questions unknown (the
    viewer then shows no options, and copying is not measured).
    """
    wanted = {ep.question_id for ep in episodes}
    found: list[Question] = []
    try:
        found += _bundled_questions(sorted({ep.subject for ep in episodes}))
        raw = config.get("source", "") if isinstance(config, Mapping) else config.source
        source = str(raw)
        if source.lower().endswith((".csv", ".jsonl")) and Path(source).is_file():
            from chatsim.questions import load_question_file

            found += load_question_file(source)
    except (ChatsimError, OSError, ImportError):
        pass
    return {q.id: q for q in found if q.id in wanted}


def _load_summary(path: Path) -> dict[str, Any] | None:
    """A load test's ``load_summary.json``, rendered by the report when present."""
    file = path / LOAD_SUMMARY_FILE
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirectoryError(f"{file} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {"value": data}


def load_report_data(run_dir: Path | str, *, questions: bool = True) -> ReportData:
    """Read a run directory (``RunDirectoryError`` when it is not one)."""
    run = read_run(run_dir)
    return ReportData(
        run=run,
        baseline=read_baseline(run.path),
        questions=find_questions(run.episodes, run.header.config) if questions else {},
        load_summary=_load_summary(run.path),
        judge=current_judgements(read_judge(run.path), run.episodes),
    )


def summarize_run(
    data: ReportData | Path | str,
    *,
    prices: PriceTable | None = None,
    interval: IntervalMethod = "cluster_bootstrap",
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    errors_as_incorrect: bool = False,
) -> RunSummary:
    """``summarize`` over a run directory, with its models, AI-alone records and questions."""
    if not isinstance(data, ReportData):
        data = load_report_data(data)
    header = data.run.header
    models = list(header.models) or None
    share = getattr(header.config, "max_error_share", DEFAULT_MAX_ERROR_SHARE)  # RunConfig's
    return summarize(
        data.episodes,
        models=models,
        interval=interval,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        errors_as_incorrect=errors_as_incorrect,
        stems=data.stems,
        prices=prices,
        baseline=data.baseline,
        simulator_choice=header.simulator_choice,
        max_error_share=share,
    )
