"""One episode under each study condition: what is asked of whom, with which seed, and what
the record keeps when a phase fails."""

from __future__ import annotations

import dataclasses

import pytest

from chatsim import SimulatorError
from chatsim._util._clock import MonotonicWallClock
from chatsim.config import Condition
from chatsim.protocol import Role, SimulatorStep, TerminationReason
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord
from chatsim.runner import EpisodePlan, EpisodeSettings, run_episode
from chatsim.runner._seeds import derive_seed
from chatsim.simulators import UserTurnRequest
from chatsim.simulators._registry import DirectTurnSource
from chatsim.targets import CallPolicy, TargetCaller
from chatsim.testing import FakeTarget, ScriptedSimulator

pytestmark = pytest.mark.anyio

QUESTION = Question(
    id="college_mathematics-test-0", subject="college_mathematics", stem="What is 2 + 2?",
    options=("3", "4", "5", "6"), gold="B",
)  # fmt: skip
SETTINGS = EpisodeSettings(
    run_id="r", simulator_spec="scripted", max_turns=10, system_prompt=None, temperature=None,
    max_tokens=None, stream=False, timeout=None,
)  # fmt: skip


class Recorder:
    """A scripted user that keeps every request it was given."""

    def __init__(self, alone: str = "Answer: A", fail_alone: bool = False) -> None:
        self.requests: list[UserTurnRequest] = []
        self.alone, self.fail_alone = alone, fail_alone

    def __call__(self, request: UserTurnRequest) -> str:
        self.requests.append(request)
        if request.step is SimulatorStep.ALONE:
            if self.fail_alone:
                raise SimulatorError("the model is gone")
            return self.alone
        return "What is it?" if not request.history else "Answer: B"


async def _run(condition: Condition, user: Recorder, target: FakeTarget) -> EpisodeRecord:
    plan = EpisodePlan("m|q|0", "m", QUESTION, 0, seed=7)
    caller = TargetCaller(target, CallPolicy(backoff_initial=0, backoff_max=0))
    settings = dataclasses.replace(SETTINGS, condition=condition)
    source = DirectTurnSource(ScriptedSimulator(user))
    return await run_episode(plan, settings, source, caller, MonotonicWallClock())


async def test_user_alone_is_one_simulator_call_and_no_target_call() -> None:
    user, target = Recorder(alone="no idea"), FakeTarget()
    record = await _run("user-alone", user, target)
    assert target.requests == []
    assert [r.step for r in user.requests] == [SimulatorStep.ALONE]
    assert user.requests[0].history == () and user.requests[0].seed == derive_seed(7, "alone")
    assert record.termination is TerminationReason.INVALID_ANSWER and not record.correct
    assert record.condition == "user-alone" and [t.role for t in record.turns] == [Role.USER]
    assert record.initial_turn is None and record.initial_correct is None


async def test_answer_first_keeps_the_conversation_seeds_of_direct_to_ai() -> None:
    direct, first = Recorder(), Recorder()
    await _run("direct-to-AI", direct, FakeTarget())
    record = await _run("answer-first", first, FakeTarget())
    assert [r.step for r in first.requests] == [SimulatorStep.ALONE, SimulatorStep.FIRST,
                                                SimulatorStep.NEXT]  # fmt: skip
    talk = first.requests[1:]
    assert [(r.seed, r.history) for r in talk] == [(r.seed, r.history) for r in direct.requests]
    assert record.initial_answer == "A" and record.initial_correct is False
    assert record.final_answer == "B" and record.correct
    assert record.turns[0].index == 0 and record.turns[0].text == "What is it?"


async def test_answer_first_whose_answer_alone_fails_is_a_simulator_error() -> None:
    target = FakeTarget()
    record = await _run("answer-first", Recorder(fail_alone=True), target)
    assert record.termination is TerminationReason.SIMULATOR_ERROR and target.requests == []
    assert record.initial_answer is None and record.initial_correct is None
    assert "the model is gone" in (record.error or "")
