"""The demo script: the loopback server plays both sides of a run with no key (README)."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from chatsim.protocol import Role, parse_answer
from chatsim.recording import read_run
from chatsim.testing import LoopbackServer, ReplyContext, demo_script
from chatsim.testing._demo import demo_reply

pytestmark = pytest.mark.anyio


def _chat(*messages: tuple[str, str]) -> ReplyContext:
    return ReplyContext(
        endpoint="chat",
        model="demo",
        body={},
        messages=tuple({"role": role, "content": text} for role, text in messages),
    )


QUESTION = "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6"


def test_the_assistant_names_one_of_the_options() -> None:
    reply = demo_reply(_chat(("system", "You are a helpful AI assistant."), ("user", QUESTION)))
    assert parse_answer(reply).letter in set("ABCD")


def test_the_user_settles_on_the_letter_the_assistant_gave() -> None:
    system = "... You have read the assistant's latest reply. Now decide ...\n\nQuestion:\n"
    context = _chat(
        ("system", system + QUESTION),
        ("assistant", "Hi! Can you help me with this question?"),
        ("user", "Checking again: the answer is C."),
        ("assistant", "Are you sure?"),
        ("user", "Yes, the answer is C."),
    )
    assert demo_reply(context) == "Answer: C"


async def test_a_cli_run_against_the_demo_server_records_whole_conversations(
    tmp_path: Path,
) -> None:
    async with LoopbackServer(demo_script()) as server:
        result = await anyio.run_process(
            [sys.executable, "-m", "chatsim", "run", "--model", "vllm:demo", "--simulator",
             "prompted:vllm:demo", "--base-url", server.base_url, "--subset", "college_math",
             "--limit", "6", "--out", str(tmp_path), "--run-id", "demo", "--quiet"],
            check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    episodes = read_run(tmp_path / "demo").episodes
    assert len(episodes) == 6
    for episode in episodes:
        assert episode.termination.value == "answered"
        said = [parse_answer(t.text).letter for t in episode.turns if t.role is Role.ASSISTANT]
        assert episode.turns[-1].text == f"Answer: {said[-1]}"
    assert {len(e.turns) for e in episodes} >= {3, 5}  # some ask a follow-up first
