"""Helpers of the end-to-end tests, in a uniquely named module (a bare ``from conftest import``
resolves to whichever of the suite's several conftest modules was imported first)."""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence

from chatsim.questions import LETTERS, Question
from chatsim.testing import ReplyContext, ReplyScript

ASSISTANT_REPLY = "Let me work through it. The answer is B."


def prompted_user(context: ReplyContext) -> str:
    """The prompted simulator's side: ask once, then settle on the assistant's letter."""
    # In the chat format the simulator's own earlier messages are its "assistant" messages.
    if not any(m.get("role") == "assistant" for m in context.messages):
        return "Hi! I'm stuck on this question, can you help me work it out?"
    return "Answer: B"


def user_and_assistant_script() -> ReplyScript:
    return ReplyScript(
        ASSISTANT_REPLY,
        models={"user": ReplyScript(prompted_user), "assistant": ReplyScript(ASSISTANT_REPLY)},
    )


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``chatsim`` subprocess: no credentials but what the test plants."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(extra or {})
    env["COLUMNS"] = "200"
    # Two cores, often one busy: a tiny CPU model gains nothing from a second thread and
    # loses much when that core is taken.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


CHATSIM = [sys.executable, "-m", "chatsim"]


# -- three providers ---------------------------------------------------------------------------

_STATED = re.compile(r"answer is ([ABCD])\b")


class PlantedAssistant:
    """An assistant whose accuracy is planted: it knows each question's gold letter (found by
    its stem in the first user message) and answers it right ``always``, ``never``, or on
    every other call for that question (``alternate``: per-question accuracy 1/2 when every
    question is asked an even number of times). Follow-ups get the letter it already gave.

    It counts first replies only, and faults are drawn before a reply is asked for, so
    retries and follow-ups do not disturb the plan.
    """

    def __init__(self, questions: Sequence[Question], policy: str) -> None:
        if policy not in ("always", "never", "alternate"):
            raise ValueError(f"unknown policy {policy!r}")
        # Longest stems first: a stem that contains another one must win.
        self._gold = sorted(((q.stem, q.gold) for q in questions), key=lambda p: -len(p[0]))
        self.policy = policy
        self._asked: Counter[str] = Counter()

    def _letter(self, first: str) -> str:
        found = next(((stem, g) for stem, g in self._gold if stem in first), None)
        if found is None:
            raise AssertionError(f"no planted question in {first[:80]!r}")
        stem, gold = found
        wrong = LETTERS[(LETTERS.index(gold) + 1) % len(LETTERS)]
        if self.policy == "always":
            return gold
        if self.policy == "never":
            return wrong
        self._asked[stem] += 1
        return gold if self._asked[stem] % 2 else wrong

    def __call__(self, context: ReplyContext) -> str:
        users = [m for m in context.messages if m.get("role") == "user"]
        said = [m for m in context.messages if m.get("role") == "assistant"]
        if said:
            earlier = _STATED.findall(str(said[-1].get("content", "")))
            return f"Yes, I checked again: the answer is {earlier[-1]}."
        first = str(users[0].get("content", "")) if users else ""
        return f"Let me work through it. The answer is {self._letter(first)}."
