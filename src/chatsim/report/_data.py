"""Everything a report reads from a run directory, read once: the figures from the facts
sidecar, the records only where a view shows conversations."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatsim._exceptions import ChatsimError, RunDirectoryError
from chatsim.baseline import read_baseline
from chatsim.config import DEFAULT_MAX_ERROR_SHARE, ConversationConfig
from chatsim.judge import current_judgements, read_judge
from chatsim.metrics import RunFacts, facts_sidecar
from chatsim.metrics._cost import PriceTable
from chatsim.metrics._stats import DEFAULT_RESAMPLES, DEFAULT_SEED, IntervalMethod
from chatsim.metrics._summary import RunSummary, summarize_facts
from chatsim.questions import Question
from chatsim.recording import (
    LOAD_SUMMARY_FILE,
    BaselineRecord,
    EpisodeRecord,
    JudgeRecord,
    RunData,
    RunHeader,
    load_sidecar,
    read_header,
    read_run,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ReportData", "find_questions", "load_report_data", "run_facts", "summarize_run"]


@dataclass(frozen=True)
class ReportData:
    """A run plus what reports add to it: AI-alone records, question texts, load summary.

    The figures come from the run's facts table (``facts``: the facts sidecar, one row per
    episode), so a report of a million episodes holds no record per episode. The records
    themselves (``run``, ``episodes``) are read only when something asks for them: the HTML
    viewer, the exported tables, the judge.
    """

    path: Path
    header: RunHeader
    facts: pa.Table
    """One ``FACTS_SCHEMA`` row per episode, in recorded order (``chatsim.metrics``)."""
    torn_tail: bool = False
    """The last line of ``episodes.jsonl`` was incomplete and left out."""
    baseline: list[BaselineRecord] = field(default_factory=list)
    load_summary: dict[str, Any] | None = None

    @cached_property
    def run(self) -> RunData:
        """Every record (read now, in full: for the views that show conversations)."""
        return read_run(self.path)

    @property
    def episodes(self) -> list[EpisodeRecord]:
        return self.run.episodes

    @cached_property
    def questions(self) -> dict[str, Question]:
        """Question id -> question, where it could be found offline (the viewer, exports)."""
        ids = set(self.facts.column("question_id").unique().to_pylist())
        subjects = sorted(self.facts.column("subject").unique().to_pylist())
        return find_questions(ids, subjects, self.header.config)

    @cached_property
    def judge(self) -> list[JudgeRecord]:
        """Judge scores (``judge.jsonl``) of the episodes as recorded now, kept apart from
        accuracy (the records are read only when there are scores)."""
        scores = read_judge(self.path)
        return current_judgements(scores, self.episodes) if scores else []

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
    question_ids: Iterable[str],
    subjects: Iterable[str],
    config: ConversationConfig | Mapping[str, Any],
) -> dict[str, Question]:
    """The run's questions, looked up offline: bundled subjects, or the run's question file.

    Best effort: a question file that has moved simply leaves its questions unknown (the
    viewer then shows no options, and copying is not measured).
    """
    wanted = set(question_ids)
    found: list[Question] = []
    try:
        found += _bundled_questions(sorted(set(subjects)))
        found += _question_file(config)
    except (ChatsimError, OSError, ImportError):
        pass
    return {q.id: q for q in found if q.id in wanted}


def _question_file(config: ConversationConfig | Mapping[str, Any]) -> list[Question]:
    raw = config.get("source", "") if isinstance(config, Mapping) else config.source
    source = str(raw)
    if source.lower().endswith((".csv", ".jsonl")) and Path(source).is_file():
        from chatsim.questions import load_question_file

        return load_question_file(source)
    return []


class _StemLookup:
    """A record's question text, found offline as ``find_questions`` finds it, loading each
    bundled subject (and the run's question file) once, when a record first needs it: for
    building the facts of records the sidecar does not cover yet."""

    def __init__(self, config: ConversationConfig | Mapping[str, Any]) -> None:
        self.config = config
        self.stems: dict[str, str] = {}
        self.subjects: set[str] = set()
        self.file_read = False

    def __call__(self, record: EpisodeRecord) -> str | None:
        if record.question_id not in self.stems and record.subject not in self.subjects:
            self.subjects.add(record.subject)
            found: list[Question] = []
            try:
                found += _bundled_questions([record.subject])
                if not self.file_read:
                    self.file_read = True
                    found += _question_file(self.config)
            except (ChatsimError, OSError, ImportError):
                pass
            self.stems.update((q.id, q.stem) for q in found)
        return self.stems.get(record.question_id)


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


def load_report_data(run_dir: Path | str) -> ReportData:
    """Read a run directory (``RunDirectoryError`` when it is not one): its header, its facts
    (the sidecar, completed from the records where it does not cover them), AI-alone records
    and load summary."""
    path = Path(run_dir)
    header = read_header(path)
    read = load_sidecar(path, facts_sidecar(_StemLookup(header.config)))
    return ReportData(
        path=path,
        header=header,
        facts=read.table,
        torn_tail=read.torn_tail,
        baseline=read_baseline(path),
        load_summary=_load_summary(path),
    )


def run_facts(run_dir: Path | str) -> RunFacts:
    """A run directory as ``compare_facts`` takes it: its name, header and facts."""
    data = load_report_data(run_dir)
    return RunFacts(data.path.name, data.header, data.facts)


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
    """``summarize`` over a run directory's facts, with its models and AI-alone records."""
    if not isinstance(data, ReportData):
        data = load_report_data(data)
    header = data.header
    models = list(header.models) or None
    share = getattr(header.config, "max_error_share", DEFAULT_MAX_ERROR_SHARE)  # RunConfig's
    return summarize_facts(
        data.facts,
        models=models,
        interval=interval,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        errors_as_incorrect=errors_as_incorrect,
        prices=prices,
        baseline=data.baseline,
        simulator_choice=header.simulator_choice,
        max_error_share=share,
    )
