"""Reading the ChatBench release from a local folder, or from the Hugging Face hub.

The release (``microsoft/ChatBench``, CC BY 4.0; Chang, Anderson & Hofman, ACL 2025)::

    questions.csv                      the 396 questions of the study
    ai_alone_answers.csv               AI-alone accuracy per question and model
    full_study/user_answers.csv        every user-alone and user–AI answer
    full_study/user_answers_filtered.csv   the same, filtered as in the paper (preferred)
    full_study/conversations.json      the user–AI conversations (not read here)

Files are read with the ``csv`` module (the largest is 1.5 MB); the columns relied on are
named in ``_columns.ReleaseColumns`` and checked before any row is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from chatsim._exceptions import DataError
from chatsim.chatbench._columns import DEFAULT_COLUMNS, ReleaseColumns

__all__ = [
    "HUB_REPO",
    "AiAloneAccuracy",
    "ChatBenchRelease",
    "HumanAnswer",
    "load_release",
]

HUB_REPO = "microsoft/ChatBench"
QUESTIONS_FILE = "questions.csv"
AI_ALONE_FILE = "ai_alone_answers.csv"
_FILTERED = ("full_study/user_answers_filtered.csv", "user_answers_filtered.csv")
_ALL = ("full_study/user_answers.csv", "user_answers.csv")
_CONVERSATIONS = ("full_study/conversations.json", "conversations.json")
_TRUE = frozenset({"1", "1.0", "true", "yes"})
_FALSE = frozenset({"0", "0.0", "false", "no"})

AnswerKind = Literal["user-alone", "user-AI"]


class HumanAnswer(NamedTuple):
    """One answer of one study participant."""

    question_id: str
    model: str
    condition: str
    kind: AnswerKind
    correct: bool


class AiAloneAccuracy(NamedTuple):
    """AI-alone accuracy of one model on one question (one method)."""

    question_id: str
    model: str
    accuracy: float


@dataclass(frozen=True)
class ChatBenchRelease:
    """The parts of the release that calibration reads."""

    root: Path
    """The folder read (a hub snapshot's folder for ``hf``)."""
    question_ids: tuple[str, ...]
    """Ids of ``questions.csv``, in file order."""
    answers: tuple[HumanAnswer, ...]
    """User-alone and user–AI answers (rows of another answer type are skipped)."""
    ai_alone: tuple[AiAloneAccuracy, ...]
    """AI-alone accuracy (empty without ``ai_alone_answers.csv``)."""
    answers_file: Path
    """The user-answers file read."""
    conversations_file: Path | None
    """``conversations.json`` where present (for training data; not read here)."""
    columns: ReleaseColumns = DEFAULT_COLUMNS

    @property
    def models(self) -> tuple[str, ...]:
        """The assistant models of the user study, sorted."""
        return tuple(sorted({a.model for a in self.answers}))


def _neither(source: str | Path, why: str) -> DataError:
    return DataError(
        f"cannot load the ChatBench release from {source}: {why}. Either pass a local folder "
        f"that holds {QUESTIONS_FILE}, {AI_ALONE_FILE} and {_FILTERED[0]} (fetch it once with "
        f"`hf download {HUB_REPO} --repo-type dataset --local-dir DIR`), or make the Hugging "
        f"Face hub reachable and pass `hf` (or `hf:{HUB_REPO}`)"
    )


def _download(source: str, repo_id: str) -> Path:
    try:
        import huggingface_hub
    except ImportError as exc:
        raise _neither(
            source, "huggingface_hub is not installed (pip install 'chatsim[hf]')"
        ) from exc
    try:
        folder = huggingface_hub.snapshot_download(repo_id=repo_id, repo_type="dataset")
    # The hub raises many unrelated types for "not reachable" (offline mode, connection and
    # HTTP errors of requests or httpx, a missing cache entry); each means the same here.
    except Exception as exc:
        raise _neither(source, f"the hub is not reachable ({type(exc).__name__}: {exc})") from exc
    return Path(folder)


def _resolve(source: str | Path) -> Path:
    text = str(source)
    if isinstance(source, str) and (text == "hf" or text.startswith("hf:")):
        return _download(text, text[3:] or HUB_REPO)
    path = Path(source)
    if not path.exists():
        raise _neither(source, "no such folder")
    if not path.is_dir():
        raise _neither(source, "it is a file, not the release's folder")
    return path


def _first(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def _rows(path: Path, needed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file after checking that every needed column is there."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [n for n in dict.fromkeys(needed) if n not in header]
    if missing:
        raise DataError(
            f"{path} lacks the column(s) {', '.join(missing)} (found: {', '.join(header) or '-'})"
            "; if the release names them differently, map them with --column KEY=NAME"
        )
    for number, row in enumerate(reader, start=2):  # line 1 is the header
        yield number, {(k or "").strip(): (v or "").strip() for k, v in row.items()}


def _flag(path: Path, line: int, column: str, value: str) -> bool:
    low = value.lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise DataError(f"{path}, line {line}: {column} must be 1/0 or true/false, got {value!r}")


def _answers(path: Path, c: ReleaseColumns) -> tuple[HumanAnswer, ...]:
    kinds: dict[str, AnswerKind] = {c.user_alone: "user-alone", c.user_ai: "user-AI"}
    out: list[HumanAnswer] = []
    for line, row in _rows(path, c.user_answer_columns()):
        kind = kinds.get(row[c.answer_type])
        if kind is None or not row[c.correct]:  # other answer types; unanswered rows
            continue
        correct = _flag(path, line, c.correct, row[c.correct])
        out.append(HumanAnswer(row[c.question_id], row[c.model], row[c.condition], kind, correct))
    if not out:
        raise DataError(
            f"{path} holds no answers of type {c.user_alone!r} or {c.user_ai!r} in column "
            f"{c.answer_type!r}; map the values with --column user_alone=... / user_ai=..."
        )
    return tuple(out)


def _ai_alone(path: Path | None, c: ReleaseColumns) -> tuple[AiAloneAccuracy, ...]:
    if path is None:
        return ()
    out: list[AiAloneAccuracy] = []
    for line, row in _rows(path, c.ai_alone_columns()):
        value = row[c.ai_alone_acc]
        try:
            accuracy = float(value)
        except ValueError:
            raise DataError(f"{path}, line {line}: {c.ai_alone_acc} is not a number") from None
        out.append(AiAloneAccuracy(row[c.question_id], row[c.model], accuracy))
    return tuple(out)


def load_release(
    source: str | Path,
    *,
    columns: ReleaseColumns = DEFAULT_COLUMNS,
    answers: Literal["filtered", "all"] = "filtered",
) -> ChatBenchRelease:
    """The release from a folder, or from the hub with ``hf`` / ``hf:<repo>``.

    ``answers="filtered"`` reads ``user_answers_filtered.csv`` (the paper's analysis set) and
    falls back to ``user_answers.csv`` when only that is present.
    """
    root = _resolve(source)
    questions = root / QUESTIONS_FILE
    if not questions.is_file():
        raise _neither(source, f"it has no {QUESTIONS_FILE}")
    order = (*_FILTERED, *_ALL) if answers == "filtered" else _ALL
    answers_file = _first(root, order)
    if answers_file is None:
        raise _neither(source, f"it has none of {', '.join(order)}")
    ids = tuple(row[columns.question_id] for _, row in _rows(questions, (columns.question_id,)))
    return ChatBenchRelease(
        root=root,
        question_ids=ids,
        answers=_answers(answers_file, columns),
        ai_alone=_ai_alone(_first(root, (AI_ALONE_FILE,)), columns),
        answers_file=answers_file,
        conversations_file=_first(root, _CONVERSATIONS),
        columns=columns,
    )
