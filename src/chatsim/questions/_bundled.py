"""The bundled ChatBench subjects: MMLU CSVs and MMLU-Redux labels, read from package data."""

from __future__ import annotations

import ast
import csv
import io
from functools import cache
from importlib import resources

from chatsim._exceptions import DataError
from chatsim.questions._model import Question
from chatsim.questions._subjects import CHATBENCH_SUBJECTS

__all__ = ["BUNDLED_SPLITS", "load_bundled", "redux_labels", "redux_unmatched"]

BUNDLED_SPLITS = ("test", "dev", "val")
# Apostrophe look-alikes, plus U+FFFD: the Redux moral_scenarios file has one Mac-Roman
# apostrophe (byte 0xD5) that a lenient UTF-8 decode turns into U+FFFD.
_APOSTROPHES = str.maketrans(dict.fromkeys("’‘`\ufffd", "'"))


def _read(*parts: str) -> str:
    resource = resources.files("chatsim.questions").joinpath("data", *parts)
    return resource.read_bytes().decode("utf-8", errors="replace")


@cache
def load_bundled(subject: str, split: str = "test") -> tuple[Question, ...]:
    """One bundled MMLU subject and split, ids ``<subject>-<split>-<row>``.

    Exact duplicate rows are dropped after ids are assigned (ChatBench's rule), so the id of
    every kept question still names its row in the CSV.
    """
    if subject not in CHATBENCH_SUBJECTS or split not in BUNDLED_SPLITS:
        raise DataError(f"no bundled data for subject {subject!r}, split {split!r}")
    text = _read("mmlu", split, f"{subject}_{split}.csv")
    questions: list[Question] = []
    seen: set[tuple[str, ...]] = set()
    for row_number, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
        if len(row) != 6:
            raise DataError(f"bundled {subject}_{split}.csv row {row_number}: expected 6 columns")
        if tuple(row) in seen:
            continue
        seen.add(tuple(row))
        questions.append(
            Question(
                id=f"{subject}-{split}-{row_number}",
                subject=subject,
                stem=row[0],
                options=(row[1], row[2], row[3], row[4]),
                gold=row[5],
            )
        )
    return tuple(questions)


def _key(stem: str, options: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Content key for matching Redux rows to MMLU rows: whitespace and apostrophes normalised."""
    return tuple(" ".join(str(t).translate(_APOSTROPHES).split()) for t in (stem, *options))


@cache
def _redux(subject: str) -> tuple[dict[str, str], tuple[str, ...]]:
    by_key: dict[tuple[str, ...], str] = {}
    for question in load_bundled(subject, "test"):
        by_key.setdefault(_key(question.stem, question.options), question.id)
    labels: dict[str, str] = {}
    unmatched: list[str] = []
    rows = csv.DictReader(io.StringIO(_read("mmlu_redux", f"mmlu_{subject}.csv"), newline=""))
    for row in rows:
        choices = ast.literal_eval(row["choices"])  # a Python-list string
        qid = by_key.get(_key(row["question"], choices))
        if qid is None:
            unmatched.append(row["question"])
        else:
            labels[qid] = row["error_type"].strip().lower()
    return labels, tuple(unmatched)


def redux_labels(subject: str) -> dict[str, str]:
    """MMLU-Redux ``error_type`` (lower case) by question id, for the annotated test questions."""
    return dict(_redux(subject)[0])


def redux_unmatched(subject: str) -> tuple[str, ...]:
    """Stems of Redux rows that match no MMLU test row (expected: none)."""
    return _redux(subject)[1]
