"""Helpers of the end-to-end tests, in a uniquely named module (a bare ``from conftest import``
resolves to whichever of the suite's several conftest modules was imported first)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

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
