"""Simulator specs, the scripted user, and a prompted chat model playing the user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatsim import ConfigError, SimulatorError, TransientError, UnknownNameError
from chatsim._util._clock import MonotonicWallClock
from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question
from chatsim.simulators import UserTurnRequest
from chatsim.simulators._prompted import PromptedSimulator
from chatsim.simulators._registry import SimulatorSettings, create_simulator, default_simulator_spec
from chatsim.simulators._scripted import ScriptedSimulator, default_policy
from chatsim.targets import TargetSettings
from chatsim.testing import FakeTarget, registered_adapter

pytestmark = pytest.mark.anyio

Q = Question(id="q-1", subject="s", stem="2+2?", options=("3", "4", "5", "6"), gold="B")


def _request(
    step: SimulatorStep, history: tuple[Message, ...] = (), seed: int = 1
) -> UserTurnRequest:
    return UserTurnRequest("e", Q, history, step, seed)


@pytest.fixture
def fake() -> Iterator[list[FakeTarget]]:
    made: list[FakeTarget] = []

    def factory(model: str, settings: TargetSettings) -> FakeTarget:
        made.append(FakeTarget(default="Hi, can you help me with 2+2? [END]"))
        return made[-1]

    with registered_adapter("fake", factory):
        yield made


def test_scripted_policy_is_deterministic_and_ends_with_an_answer() -> None:
    first = default_policy(_request(SimulatorStep.FIRST, seed=3))
    assert first == default_policy(_request(SimulatorStep.FIRST, seed=3))
    history = (Message(Role.USER, first), Message(Role.ASSISTANT, "The answer is **B**."))
    forced = default_policy(_request(SimulatorStep.FORCE_ANSWER, history, seed=3))
    assert forced == "Answer: B"


async def test_prompted_simulator_renders_chat_and_cleans_the_stop(fake: list[FakeTarget]) -> None:
    sim = create_simulator("prompted:fake:user-model", SimulatorSettings(), MonotonicWallClock())
    assert isinstance(sim, PromptedSimulator)
    (turn,) = await sim.generate([_request(SimulatorStep.FIRST)])
    assert turn.text == "Hi, can you help me with 2+2?"
    assert [a.outcome for a in turn.attempts] == ["ok"]
    sent = fake[0].requests[0]
    assert sent.temperature == 1.0 and not sent.stream
    assert sent.messages[0].role is Role.SYSTEM and "2+2?" in sent.messages[0].content
    await sim.aclose()
    assert fake[0].closed


async def test_prompted_simulator_failure_is_a_simulator_error(fake: list[FakeTarget]) -> None:
    sim = create_simulator("prompted:fake:m", SimulatorSettings(), MonotonicWallClock())
    assert isinstance(sim, PromptedSimulator)
    sim.caller.adapter = FakeTarget([TransientError("503")] * 10)
    sim.caller.policy = sim.caller.policy.model_copy(
        update={"max_attempts": 2, "backoff_initial": 0, "backoff_max": 0, "jitter": 0}
    )
    with pytest.raises(SimulatorError, match="prompted simulator"):
        await sim.generate([_request(SimulatorStep.FIRST)])


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("warp:x", UnknownNameError, "valid simulators"),
        ("prompted:", ConfigError, "prompted:<model spec>"),
        ("served:", ConfigError, "served:<model>"),
        ("served:chatbench", ConfigError, "--simulator-base-url"),
    ],
)
def test_bad_specs(
    spec: str, error: type[Exception], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATSIM_SIMULATOR_BASE_URL", raising=False)
    with pytest.raises(error, match=message):
        create_simulator(spec, SimulatorSettings(), MonotonicWallClock())


def test_scripted_spec_and_default_without_gpu() -> None:
    sim = create_simulator("scripted", SimulatorSettings(), MonotonicWallClock())
    assert isinstance(sim, ScriptedSimulator)
    assert default_simulator_spec(("gpt-4o",)) == "prompted:gpt-4o"  # CI has no GPU


def test_unknown_hf_option_names_the_valid_ones() -> None:
    pytest.importorskip("torch")
    settings = SimulatorSettings(options={"load_in_9bit": True})
    with pytest.raises(ConfigError, match="load_in_8bit"):
        create_simulator("hf:/nonexistent+/nonexistent", settings, MonotonicWallClock())


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("scripted", {"max_batch_size": 8}, "applies to hf: and served: simulators only"),
        ("hf:/x+/y", {"max_wait": "soon"}, "max_wait"),
        ("hf:/x+/y", {"max_batch_size": "abc"}, "max_batch_size"),
        ("hf:/x+/y", {"load_in_8bit": "maybe"}, "load_in_8bit"),
    ],
)
def test_simulator_options_are_checked_before_loading(
    spec: str, options: dict[str, object], message: str
) -> None:
    pytest.importorskip("torch")
    with pytest.raises(ConfigError, match=message):
        create_simulator(spec, SimulatorSettings(options=options), MonotonicWallClock())
