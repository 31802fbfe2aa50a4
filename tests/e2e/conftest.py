"""End-to-end fixtures: the loopback server playing both the assistant and the prompted user."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Mapping

import pytest

from chatsim.testing import LoopbackServer, ReplyContext, ReplyScript

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


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(user_and_assistant_script()) as srv:
        yield srv


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``chatsim`` subprocess: no credentials but what the test plants."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(extra or {})
    env["COLUMNS"] = "200"
    return env


CHATSIM = [sys.executable, "-m", "chatsim"]
