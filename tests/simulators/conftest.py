"""Fixtures of the simulator tests: the tiny model (``tiny_model``, tests/conftest.py) loaded
once per session, and requests of varied shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question
from chatsim.simulators._contract import UserTurnRequest


@pytest.fixture(scope="session")
def tiny_engine(tiny_model: Any) -> Any:
    """The tiny model loaded through the real ``hf:`` code path (greedy, short turns)."""
    from chatsim.simulators._hf_load import load_engine
    from chatsim.simulators._hf_options import HFOptions

    options = HFOptions(max_new_tokens=24, temperature=0.0, context_tokens=1024)
    return load_engine(f"{tiny_model.base}+{tiny_model.adapter}", options)


def _question(index: int) -> Question:
    return Question(
        id=f"q{index}",
        subject="elementary_mathematics",
        stem=f"What is {index} + {index + 3}?",
        options=(str(2 * index + 3), str(2 * index + 1), str(2 * index + 5), str(index)),
        gold="A",
    )


def make_requests(
    count: int, *, seed: int = 0, long_history: bool = False
) -> list[UserTurnRequest]:
    """Requests of varied prompt lengths: first turns, and later turns with history."""
    requests = []
    for index in range(count):
        history: tuple[Message, ...] = ()
        step = SimulatorStep.FIRST
        if index % 2:
            reply = "Adding the numbers gives the result. The answer is A."
            history = (
                Message(Role.USER, "Can you help me with this sum?"),
                Message(Role.ASSISTANT, reply),
            )
            if long_history:  # a long older reply: trimming never touches the latest one
                older = " ".join(["This is a very long explanation of the sum."] * 40) + reply
                history = (
                    Message(Role.USER, "Can you help me with this sum?"),
                    Message(Role.ASSISTANT, older),
                    Message(Role.USER, "Are you sure?"),
                    Message(Role.ASSISTANT, reply),
                )
            step = SimulatorStep.NEXT
        requests.append(
            UserTurnRequest(
                episode_id=f"e{index}",
                question=_question(index),
                history=history,
                step=step,
                seed=seed + index,
            )
        )
    return requests


@pytest.fixture
def requests_factory() -> Callable[..., list[UserTurnRequest]]:
    return make_requests
