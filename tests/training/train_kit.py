"""Conversations for the training tests: sums, as the tiny model knows them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from chatsim.protocol import Message, Role
from chatsim.questions import Question
from chatsim.training import UserConversation


def sum_question(index: int, rng: random.Random) -> Question:
    a, b = rng.randint(2, 60), rng.randint(2, 60)
    options = (str(a + b), str(a + b + 1), str(a + b - 1), str(a + b + 2))
    return Question(
        id=f"q{index}",
        subject="elementary_mathematics",
        stem=f"What is {a} + {b}?",
        options=options,
        gold="A",
    )


def sum_conversations(count: int, seed: int = 1) -> list[UserConversation]:
    """``count`` conversations of one or two user messages; the user chooses A."""
    rng = random.Random(seed)
    found = []
    openers = ("Please help me add these.", "I need the sum of two numbers.", "Which is right?")
    for index in range(count):
        question = sum_question(index, rng)
        messages = [
            Message(Role.USER, rng.choice(openers)),
            Message(Role.ASSISTANT, f"The sum is {question.options[0]}, option A."),
        ]
        if index % 2:
            messages += [Message(Role.USER, "Could you double check?"),
                         Message(Role.ASSISTANT, "Yes, A.")]  # fmt: skip
        found.append(UserConversation.of(question, messages, "A", f"conv-{index}"))
    return found


def write_conversations(path: Path, conversations: list[UserConversation]) -> Path:
    """The ``{question fields, messages, answer}`` JSONL that ``sim check`` also reads."""
    rows: list[dict[str, Any]] = []
    for conv in conversations:
        row: dict[str, Any] = conv.question.model_dump()
        row["messages"] = [{"role": m.role.value, "content": m.content} for m in conv.messages]
        row["answer"] = conv.answer
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
