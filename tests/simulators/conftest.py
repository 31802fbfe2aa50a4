"""Fixtures of the simulator tests: the tiny ChatBench model, built once per session."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question
from chatsim.simulators._contract import UserTurnRequest


def _builder_key() -> str:
    """Changes whenever the builder or the libraries that shape its output change."""
    import peft
    import tokenizers
    import torch
    import transformers

    from chatsim.testing import _tiny_model

    digest = hashlib.sha256(Path(_tiny_model.__file__).read_bytes())
    for module in (torch, transformers, peft, tokenizers):
        digest.update(module.__version__.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def tiny_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Paths of a tiny base + LoRA, built once per session (seconds on a CPU).

    Built under the session's temporary directory. When pytest's cache is on, the build is
    also kept there (keyed by the builder's source and library versions) and reused by later
    sessions, which keeps the CPU free for the tests themselves.
    """
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from chatsim.testing._tiny_model import TinyModelPaths, build_tiny_chatbench

    target = tmp_path_factory.mktemp("tiny-chatbench")
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return build_tiny_chatbench(target)
    kept = Path(cache.mkdir(f"chatsim-tiny-{_builder_key()}"))
    if not (kept / "complete").exists():
        paths = build_tiny_chatbench(target)
        for part in ("base", "adapter"):  # copy, then mark complete: concurrent runs are safe
            shutil.copytree(getattr(paths, part), kept / part, dirs_exist_ok=True)
        (kept / "complete").touch()
        return paths
    for part in ("base", "adapter"):
        shutil.copytree(kept / part, target / part)
    return TinyModelPaths(base=target / "base", adapter=target / "adapter")


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
