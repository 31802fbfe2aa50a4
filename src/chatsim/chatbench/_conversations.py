"""The release's user–AI conversations (``conversations.json``) as ``UserConversation``s.

What is published: ``full_study/conversations.json`` (13.9 MB; the pilots have their own) holds
the user–AI conversations of the study, later annotated; the card documents the
``user_answers.csv`` columns but not this file's fields. So its shape is assumed, with every
field name in ``ReleaseColumns`` (``--column KEY=NAME`` adjusts one)::

    [{"worker_id": "...", "model": "gpt-4o", "condition": "direct-to-AI",
      "question_id": "college_mathematics-redux-3",
      "messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}],
      "answer": "B"},                       # optional
     ...]

or the same objects as the values of one JSON object (keyed by any id). Other fields (the
annotations) are ignored. Messages are kept in order; ``system`` messages are dropped and
consecutive messages of one side are joined (one protocol turn each).

The chosen letter comes from, in order: the worker's user–AI row of the answers file (its
``selected_answer`` column, where the file has one), the conversation's ``answer`` field, a
trailing ``Answer: X`` user message. A conversation whose question does not map to a bundled
question is skipped and counted; one without a letter is kept with ``answer=None`` (first
prompts still count for similarity; ``write_data`` skips and counts it).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError
from chatsim.chatbench._columns import DEFAULT_COLUMNS, ReleaseColumns
from chatsim.chatbench._ids import IdMapping
from chatsim.chatbench._release import _CONVERSATIONS, ChatBenchRelease, _rows, load_release
from chatsim.protocol import Message, Role
from chatsim.protocol._parse import parse_answer
from chatsim.questions import Question
from chatsim.training._conversations import UserConversation

__all__ = [
    "HumanConversation",
    "HumanConversations",
    "load_human_conversations",
    "read_conversations",
]

_SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class HumanConversation:
    """One study participant's conversation, with what filtering needs."""

    conversation: UserConversation
    release_id: str
    """The question id as the release names it."""
    worker_id: str
    model: str
    condition: str


@dataclass(frozen=True)
class HumanConversations:
    """What ``read_conversations`` found, and what it left out and why."""

    file: Path
    conversations: tuple[HumanConversation, ...]
    """Mapped conversations that pass the filters (``answer`` None where no letter is known)."""
    read: int
    """Conversations in the file."""
    unmapped: dict[str, int] = field(default_factory=dict)
    """Release question id → conversations skipped because it maps to no bundled question."""
    unmapped_why: dict[str, str] = field(default_factory=dict)
    filtered_out: int = 0
    """Mapped conversations of another model or condition than asked for."""
    unreadable_answers: int = 0
    """Conversations whose recorded answer is not a letter A–D (counted in ``no_answer``)."""

    @property
    def no_answer(self) -> int:
        """Kept conversations without a known chosen letter."""
        return sum(c.conversation.answer is None for c in self.conversations)

    def user_conversations(self) -> list[UserConversation]:
        return [c.conversation for c in self.conversations]

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "read": self.read,
            "kept": len(self.conversations),
            "no_answer": self.no_answer,
            "unreadable_answers": self.unreadable_answers,
            "filtered_out": self.filtered_out,
            "unmapped_conversations": sum(self.unmapped.values()),
            "unmapped_ids": {rid: self.unmapped_why[rid] for rid in self.unmapped},
        }

    def line(self) -> str:
        skipped = sum(self.unmapped.values())
        return (
            f"{self.file}: {self.read} conversations; {len(self.conversations)} kept "
            f"({self.no_answer} without a chosen letter), {skipped} skipped for "
            f"{len(self.unmapped)} question ids that map to no bundled question, "
            f"{self.filtered_out} of another model or condition"
        )


@cache
def _bundled(subject: str) -> dict[str, Question]:
    from chatsim.questions._bundled import load_bundled

    return {q.id: q for q in load_bundled(subject, "test")}


def _question(chatsim_id: str) -> Question:
    return _bundled(chatsim_id.rsplit("-", 2)[0])[chatsim_id]


def _letter(value: Any) -> str | None:
    """A letter A–D from a recorded answer (``B``, ``(b)``, ``Answer: B``), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return parse_answer(value).letter


class _Answers:
    """The workers' user–AI rows: their model and condition, and the letter they chose."""

    def __init__(self, path: Path, c: ReleaseColumns) -> None:
        self.letters: dict[tuple[str, str], str] = {}
        self.raw: set[tuple[str, str]] = set()  # rows with a value that is not a letter
        self.workers: dict[str, tuple[str, str]] = {}
        self.has_letters = c.selected_answer in _header(path)
        needed = (*c.letter_columns(), *((c.selected_answer,) if self.has_letters else ()))
        for _, row in _rows(path, needed):
            self.workers.setdefault(row[c.worker_id], (row[c.model], row[c.condition]))
            if row[c.answer_type] != c.user_ai or not self.has_letters:
                continue
            key = (row[c.worker_id], row[c.question_id])
            letter = _letter(row[c.selected_answer])
            if letter is not None:
                self.letters[key] = letter
            elif row[c.selected_answer]:
                self.raw.add(key)


def _header(path: Path) -> set[str]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        return {name.strip() for name in next(csv.reader(fh), [])}


def _objects(path: Path) -> list[tuple[str, Any]]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise DataError(f"{path} is not JSON: {exc}") from exc
    if isinstance(data, list):
        return [(f"{path}[{i}]", row) for i, row in enumerate(data)]
    if isinstance(data, dict):
        return [(f"{path}[{key!r}]", row) for key, row in data.items()]
    raise DataError(f"{path}: expected a list of conversations (or an object of them)")


def _check(where: str, row: Any, c: ReleaseColumns) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise DataError(f"{where}: a conversation must be a JSON object")
    missing = [name for name in c.conversation_fields() if name not in row]
    if missing:
        raise DataError(
            f"{where} lacks the field(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, row)) or '-'}); if the release names them differently, "
            "map them with --column KEY=NAME (keys: question_id, worker_id, "
            "conversation_messages)"
        )
    return row


def _messages(where: str, rows: Any, c: ReleaseColumns) -> list[Message]:
    """The user's messages and the assistant's replies, in order (see the module docstring)."""
    if not isinstance(rows, list):
        raise DataError(f"{where}: {c.conversation_messages} must be a list of messages")
    roles = {c.user_role: Role.USER, c.assistant_role: Role.ASSISTANT}
    found: list[Message] = []
    for number, row in enumerate(rows):
        role = row.get(c.message_role) if isinstance(row, dict) else None
        text = row.get(c.message_text) if isinstance(row, dict) else None
        if role == _SYSTEM:
            continue
        if role not in roles or not isinstance(text, str):
            raise DataError(
                f"{where}, message {number}: needs {c.message_role} {c.user_role!r} or "
                f"{c.assistant_role!r} and a string {c.message_text} (got {role!r}); map "
                "other names with --column user_role=... / assistant_role=... / "
                "message_role=... / message_text=..."
            )
        if found and found[-1].role is roles[role]:
            found[-1] = Message(roles[role], f"{found[-1].content}\n\n{text}")
        else:
            found.append(Message(roles[role], text))
    return found


def _meta(row: dict[str, Any], c: ReleaseColumns, answers: _Answers, where: str) -> tuple[str, str]:
    worker = str(row[c.worker_id])
    model, condition = row.get(c.model), row.get(c.condition)
    if isinstance(model, str) and isinstance(condition, str):
        return model, condition
    if worker in answers.workers:
        return answers.workers[worker]
    raise DataError(
        f"{where} has no {c.model}/{c.condition} fields and worker {worker} has no rows in "
        "the answers file; map the fields with --column model=... / condition=..."
    )


def read_conversations(
    release: ChatBenchRelease, *, model: str | None = None, condition: str | None = None
) -> HumanConversations:
    """The release's conversations, mapped onto bundled questions and filtered."""
    c = release.columns
    path = release.conversations_file
    if path is None:
        raise DataError(
            f"{release.root} has none of {', '.join(_CONVERSATIONS)}; fetch the whole release "
            "(`hf download microsoft/ChatBench --repo-type dataset --local-dir DIR`)"
        )
    answers, ids = _Answers(release.answers_file, c), IdMapping()
    kept: list[HumanConversation] = []
    read, filtered, unreadable, unmapped, seen = 0, 0, 0, Counter[str](), set()
    for where, raw in _objects(path):
        row, read = _check(where, raw, c), read + 1
        rid, worker = str(row[c.question_id]), str(row[c.worker_id])
        qid = ids.get(rid)
        if qid is None:
            unmapped[rid] += 1
            continue
        row_model, row_condition = _meta(row, c, answers, where)
        seen.add((row_model, row_condition))
        if (model is not None and row_model != model) or (
            condition is not None and row_condition != condition
        ):
            filtered += 1
            continue
        messages = _messages(where, row[c.conversation_messages], c)
        stated = row.get(c.conversation_answer)
        letter = answers.letters.get((worker, rid)) or _letter(stated)
        conv = UserConversation.of(_question(qid), messages, letter, f"{where} ({rid})")
        if conv.answer is None and ((worker, rid) in answers.raw or stated not in (None, "")):
            unreadable += 1  # a recorded answer that is no letter (not merely a missing one)
        kept.append(HumanConversation(conv, rid, worker, row_model, row_condition))
    if not kept and not filtered:
        shown = ", ".join(f"{rid} ({ids.unmapped[rid]})" for rid in list(unmapped)[:3])
        raise DataError(f"{path}: no conversation maps to a bundled question; e.g. {shown or '-'}")
    if not kept:
        raise DataError(
            f"no conversation of model {model or 'any'} and condition {condition or 'any'} in "
            f"{path}; it has: {', '.join(sorted(f'{m} / {k}' for m, k in seen))}"
        )
    return HumanConversations(
        file=path,
        conversations=tuple(kept),
        read=read,
        unmapped=dict(unmapped),
        unmapped_why={rid: ids.unmapped[rid] for rid in unmapped},
        filtered_out=filtered,
        unreadable_answers=unreadable,
    )


def load_human_conversations(
    source: str | Path,
    *,
    columns: ReleaseColumns = DEFAULT_COLUMNS,
    model: str | None = None,
    condition: str | None = None,
) -> HumanConversations:
    """``load_release`` (a folder, or ``hf`` / ``hf:<repo>``), then ``read_conversations``."""
    return read_conversations(
        load_release(source, columns=columns), model=model, condition=condition
    )
