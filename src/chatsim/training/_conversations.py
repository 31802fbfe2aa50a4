"""Neutral conversations to learn from: a question, what was said, and the letter chosen.

``UserConversation`` is the one input of the training tools. Anything that has real or
simulated conversations feeds it: a run's records (``from_run``), a conversations JSONL in the
shape ``chatsim sim check`` reads (``from_jsonl``), or another loader (the ChatBench human
release) that builds the objects itself::

    UserConversation(question, messages=(Message(Role.USER, "hi"), ...), answer="B")

``messages`` alternate user and assistant, user first, and do *not* hold the final answer
statement: the chosen letter is ``answer``. A trailing ``Answer: X`` user message is accepted
by ``UserConversation.of`` and turned into ``answer``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatsim._exceptions import DataError
from chatsim.protocol import Message, Role
from chatsim.protocol._parse import is_answer_statement, parse_answer
from chatsim.questions import LETTERS, Question

__all__ = ["UserConversation", "from_jsonl", "from_run", "load_user_conversations"]


@dataclass(frozen=True, slots=True)
class UserConversation:
    """One user–assistant conversation about a question, and the letter the user chose."""

    question: Question
    messages: tuple[Message, ...]
    """User and assistant messages, user first, without the final answer statement."""
    answer: str | None
    """The letter (A–D) the user finally chose; None when unknown (such a conversation is
    left out of training data)."""
    source: str = ""
    """Where it came from (``file:line``, an episode id), for messages about it."""

    @property
    def user_messages(self) -> int:
        return sum(m.role is Role.USER for m in self.messages)

    @classmethod
    def of(
        cls,
        question: Question,
        messages: Sequence[Message],
        answer: str | None = None,
        source: str = "",
    ) -> UserConversation:
        """Normalise: empty messages dropped, a trailing ``Answer: X`` turned into ``answer``."""
        kept = [m for m in messages if m.content.strip()]
        if kept and kept[-1].role is Role.USER and is_answer_statement(kept[-1].content):
            stated = parse_answer(kept.pop().content).letter
            answer = answer or stated
        if answer is not None:
            answer = answer.strip().upper()
            if answer not in LETTERS:
                raise DataError(f"{source or question.id}: chosen answer must be A-D: {answer!r}")
        return cls(question, tuple(kept), answer, source)


def from_run(run_dir: str | Path, *, questions: Sequence[Question] = ()) -> list[UserConversation]:
    """The conversations of a run directory's records (latest record per episode).

    The final user turn of an answered episode is its answer statement; it becomes ``answer``
    (the parsed letter the run scored), not a message. Questions are looked up by id in
    ``questions``, then among the bundled ChatBench subjects.
    """
    from chatsim.recording import read_run

    run = read_run(run_dir)
    resolve = _resolver(questions)
    return [
        _from_record(r.model_dump(mode="json"), str(r.episode_id), resolve) for r in run.episodes
    ]


def _resolver(questions: Sequence[Question]) -> Any:
    from chatsim.simulators._sim_check import bundled_question

    by_id = {q.id: q for q in questions}

    def resolve(question_id: str, where: str) -> Question:
        found = by_id.get(question_id) or bundled_question(question_id)
        if found is None:
            raise DataError(
                f"{where}: question {question_id!r} is not bundled; pass the question file the "
                "run used (--questions FILE)"
            )
        return found

    return resolve


def _messages(rows: Any, where: str) -> list[Message]:
    if not isinstance(rows, list):
        raise DataError(f"{where}: 'messages' (or 'turns') must be a list")
    found = []
    for row in rows:
        role = row.get("role") if isinstance(row, dict) else None
        text = row.get("content", row.get("text")) if isinstance(row, dict) else None
        if role not in ("user", "assistant") or not isinstance(text, str):
            raise DataError(f"{where}: each message needs role user/assistant and text")
        found.append(Message(Role(role), text))
    return found


def _from_record(row: dict[str, Any], where: str, resolve: Any) -> UserConversation:
    question = resolve(str(row["question_id"]), where)
    messages = _messages(row["turns"], where)
    answer = row.get("final_answer")
    kept = [m for m in messages if m.content.strip()]
    if answer is not None and kept and kept[-1].role is Role.USER:
        kept.pop()  # the answer turn (also a forced or fallback-parsed one)
    return UserConversation.of(question, kept, answer, where)


def from_jsonl(path: str | Path, *, questions: Sequence[Question] = ()) -> list[UserConversation]:
    """Conversations from JSONL: run records, or ``{question fields, messages[, answer]}``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read conversations from {path}: {exc.strerror}") from exc
    resolve = _resolver(questions)
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object")
        if "turns" in row and "question_id" in row:
            found.append(_from_record(row, where, resolve))
            continue
        fields = ("messages", "answer")
        raw = row.get("question", {k: v for k, v in row.items() if k not in fields})
        try:
            question = Question.model_validate(raw)
        except ValueError as exc:
            raise DataError(f"{where}: not a question with messages: {exc}") from exc
        messages = _messages(row.get("messages"), where)
        found.append(UserConversation.of(question, messages, row.get("answer"), where))
    return found


def load_user_conversations(
    path: str | Path, *, questions: Sequence[Question] = ()
) -> list[UserConversation]:
    """From a run directory or a JSONL file; ``DataError`` when there are none."""
    path = Path(path)
    found = (
        from_run(path, questions=questions)
        if path.is_dir()
        else from_jsonl(path, questions=questions)
    )
    if not found:
        raise DataError(f"{path} holds no conversations")
    return found
