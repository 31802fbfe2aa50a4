"""A user's own questions from a CSV or JSONL file.

Columns / keys (names are case-insensitive):

- the stem: ``question`` or ``stem``;
- the options: ``A``, ``B``, ``C``, ``D`` or ``option_a`` ... ``option_d``; in JSONL also
  ``options`` (a list of exactly four strings);
- the gold letter: ``answer`` or ``gold`` (A–D, any case);
- optional ``subject`` (default ``custom``) and ``id`` (default ``<file stem>-<row>``, 0-based).

CSV files need a header row. Every problem raises ``DataError`` naming the file and the row.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatsim._exceptions import DataError
from chatsim.questions._model import LETTERS, Question

__all__ = ["load_question_file"]

_STEM = ("question", "stem")
_GOLD = ("answer", "gold")
_OPTION_SETS = (LETTERS, tuple(f"option_{x.lower()}" for x in LETTERS))
_EXPECTED = "question|stem, A, B, C, D (or option_a..option_d), answer|gold; optional subject, id"


def load_question_file(path: str | Path) -> list[Question]:
    """Questions from a ``.csv`` or ``.jsonl`` file, in file order."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise DataError(f"question file {path} must end in .csv or .jsonl")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: spreadsheets often write a BOM
    except FileNotFoundError:
        raise DataError(f"question file {path} does not exist") from None
    except OSError as exc:
        raise DataError(f"cannot read question file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"question file {path} is not UTF-8 text ({exc.reason})") from exc
    rows = _csv_rows(path, text) if suffix == ".csv" else _jsonl_rows(path, text)
    questions = [_question(path, where, row, index) for index, (where, row) in enumerate(rows)]
    if not questions:
        raise DataError(f"question file {path} holds no questions")
    _check_unique(path, questions)
    return questions


def _csv_rows(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if not header:
        raise DataError(f"question file {path} is empty (a header row is needed: {_EXPECTED})")
    _check_columns(path, header, allow_list=False)
    for number, row in enumerate(reader, start=1):
        if None in row:
            raise DataError(f"question file {path}, row {number}: more fields than the header")
        values = {(k or "").strip().lower(): v for k, v in row.items()}
        yield f"row {number} (line {reader.line_num})", values


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    checked = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            msg = f"question file {path}, line {number}: invalid JSON ({exc.msg})"
            raise DataError(msg) from exc
        if not isinstance(obj, dict):
            raise DataError(f"question file {path}, line {number}: expected a JSON object")
        values = {str(k).strip().lower(): v for k, v in obj.items()}
        if not checked:
            _check_columns(path, list(values), allow_list=True)
            checked = True
        yield f"line {number}", values


def _check_columns(path: Path, names: list[str], *, allow_list: bool) -> None:
    missing = []
    if not any(n in names for n in _STEM):
        missing.append("question (or stem)")
    if not any(n in names for n in _GOLD):
        missing.append("answer (or gold)")
    has_options = any(all(o.lower() in names for o in s) for s in _OPTION_SETS)
    if not has_options and not (allow_list and "options" in names):
        alternatives = "option_a..option_d, or options" if allow_list else "option_a..option_d"
        missing.append(f"A, B, C, D (or {alternatives})")
    if missing:
        raise DataError(
            f"question file {path} is missing {'; '.join(missing)}. "
            f"Found: {', '.join(names) or '(nothing)'}. Expected: {_EXPECTED}"
        )


def _first(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[n] for n in names if n in row), None)


def _options(path: Path, where: str, row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    values: Any = None
    for names in _OPTION_SETS:
        if all(n.lower() in row for n in names):
            values = [row[n.lower()] for n in names]
            break
    else:
        values = row.get("options")
        if not isinstance(values, list):
            raise DataError(f"question file {path}, {where}: options must be a list of four")
        if len(values) != 4:
            raise DataError(f"question file {path}, {where}: expected 4 options, got {len(values)}")
    if any(v is None or str(v).strip() == "" for v in values):
        raise DataError(f"question file {path}, {where}: an option is empty")
    a, b, c, d = (str(v) for v in values)
    return a, b, c, d


def _question(path: Path, where: str, row: Mapping[str, Any], index: int) -> Question:
    stem = str(_first(row, _STEM) or "").strip()
    if not stem:
        raise DataError(f"question file {path}, {where}: the question text is empty")
    gold = str(_first(row, _GOLD) or "").strip().upper()
    if gold not in LETTERS:
        raise DataError(
            f"question file {path}, {where}: gold answer must be a letter A-D, "
            f"got {_first(row, _GOLD)!r}"
        )
    qid = str(row.get("id") or "").strip() or f"{path.stem}-{index}"
    subject = str(row.get("subject") or "").strip() or "custom"
    try:
        return Question(
            id=qid,
            subject=subject,
            stem=stem,
            options=_options(path, where, row),
            gold=gold,
            source=str(path),
        )
    except ValidationError as exc:  # defensive: the checks above should catch everything
        raise DataError(f"question file {path}, {where}: {exc}") from exc


def _check_unique(path: Path, questions: list[Question]) -> None:
    counts = Counter(q.id for q in questions)
    duplicates = sorted(qid for qid, n in counts.items() if n > 1)
    if duplicates:
        raise DataError(f"question file {path} has duplicate ids: {', '.join(duplicates[:10])}")
