"""Scripted demo conversations: try chatsim with no key and no GPU.

``demo_script()`` makes the loopback server play both sides of a ChatBench conversation, so
``python -m chatsim.testing.server --demo`` plus an ordinary ``chatsim run`` shows the whole
pipeline (turns, records, report) without sending anything off the machine:

- a request whose system message carries the simulator's instructions (the prompted user,
  ``chatbench-chat-v1``) gets a user turn: an opener with the question, sometimes one
  follow-up, then ``Answer: X`` with the letter the assistant gave;
- any other request is the assistant: a short worked reply that ends "The answer is X".

The assistant's letter is a hash of the question, not knowledge: accuracy figures of a demo
run are near chance and mean nothing. Everything is deterministic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chatsim.testing._server_script import ReplyContext, ReplyScript

__all__ = ["demo_reply", "demo_script"]

_QUESTION = "\n\nQuestion:\n"
_STATED = re.compile(r"answer is \(?([ABCD])\b")
_OPTION = re.compile(r"^([ABCD])\. ", re.MULTILINE)
_FOLLOW_UPS = (
    "Are you sure? Can you check that step again?",
    "Could you explain it more simply?",
    "Why not one of the other options?",
)


def _pick(text: str, choices: Sequence[str]) -> str:
    digest = hashlib.blake2b(text.encode(), digest_size=4).digest()
    return choices[int.from_bytes(digest, "big") % len(choices)]


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _user_turn(instruction: str, history: Sequence[Mapping[str, Any]]) -> str:
    """The simulated user's side. Its own earlier turns are ``assistant`` messages here."""
    question = instruction.split(_QUESTION, 1)[1]
    if "first message" in instruction:
        return f"Hi! Can you help me with this question?\n\n{question}"
    replies = [_content(m) for m in history if m.get("role") == "user"]
    stated = _STATED.findall(replies[-1] if replies else "")
    letter = stated[-1] if stated else _pick(question, "ABCD")
    asked = sum(m.get("role") == "assistant" for m in history)
    forced = "must now submit" in instruction
    if not forced and asked == 1 and _pick("follow-up " + question, "ny") == "y":
        return _pick(question, _FOLLOW_UPS)
    return f"Answer: {letter}"


def _assistant_turn(messages: Sequence[Mapping[str, Any]]) -> str:
    users = [_content(m) for m in messages if m.get("role") == "user"]
    first = users[0] if users else ""
    letters = _OPTION.findall(first) or list("ABCD")
    letter = _pick(first, letters)
    if len(users) > 1:
        return f"Yes. Checking each option again, the same one holds: the answer is {letter}."
    return (
        "Let me work through it. First I restate what is asked, then I check each option "
        f"against it. Only one survives, so the answer is {letter}."
    )


def demo_reply(context: ReplyContext) -> str:
    """The demo's reply to one chat request (see the module docstring)."""
    messages = context.messages
    system = _content(messages[0]) if messages and messages[0].get("role") == "system" else ""
    if _QUESTION in system:
        return _user_turn(system, messages[1:])
    return _assistant_turn(messages)


def demo_script() -> ReplyScript:
    """A ``ReplyScript`` that plays both the simulated user and the assistant."""
    return ReplyScript(demo_reply)
