"""The episode loop: every way an episode can end, and what the record holds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatsim import AuthenticationError, PermanentError, SimulatorError
from chatsim._util._clock import MonotonicWallClock
from chatsim.protocol import Role, SimulatorStep, TerminationReason
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord
from chatsim.runner import EpisodePlan, EpisodeSettings, run_episode
from chatsim.runner._run import _RunLoop  # noqa: F401  (import check: runner module loads)
from chatsim.simulators import UserTurnRequest
from chatsim.simulators._registry import DirectTurnSource
from chatsim.targets import CallPolicy, TargetCaller
from chatsim.testing import FakeTarget, ScriptedSimulator

pytestmark = pytest.mark.anyio

QUESTION = Question(
    id="college_mathematics-test-0",
    subject="college_mathematics",
    stem="What is 2 + 2?",
    options=("3", "4", "5", "6"),
    gold="B",
)


def _settings(max_turns: int = 10, timeout: float | None = None) -> EpisodeSettings:
    return EpisodeSettings(
        run_id="r",
        simulator_spec="scripted",
        max_turns=max_turns,
        system_prompt="You are a helpful AI assistant.",
        temperature=0.7,
        max_tokens=None,
        stream=True,
        timeout=timeout,
    )


async def _run(
    policy: Callable[[UserTurnRequest], str],
    target: FakeTarget,
    *,
    max_turns: int = 10,
    deadline: float | None = None,
    policy_args: CallPolicy | None = None,
) -> EpisodeRecord:
    plan = EpisodePlan("m|q|0", "m", QUESTION, 0, seed=7)
    caller = TargetCaller(target, policy_args or CallPolicy(backoff_initial=0, backoff_max=0))
    source = DirectTurnSource(ScriptedSimulator(policy))
    return await run_episode(
        plan, _settings(max_turns, deadline), source, caller, MonotonicWallClock()
    )


def _script(*turns: str) -> Callable[[UserTurnRequest], str]:
    def policy(request: UserTurnRequest) -> str:
        users = sum(1 for m in request.history if m.role is Role.USER)
        return turns[min(users, len(turns) - 1)]

    return policy


async def test_answered_after_two_exchanges() -> None:
    target = FakeTarget(["It is 4, option B.", "Yes, B."])
    record = await _run(_script("what's 2+2?", "sure?", "Answer: B"), target)
    assert record.termination is TerminationReason.ANSWERED
    assert record.final_answer == "B" and record.correct and record.answer_method == "explicit"
    assert record.user_messages == 2
    assert [t.role for t in record.turns] == [Role.USER, Role.ASSISTANT] * 2 + [Role.USER]
    assert [t.text for t in record.turns][-1] == "Answer: B"
    # The target saw the system prompt and the conversation so far, never the final answer.
    last = target.requests[-1].messages
    assert last[0].role is Role.SYSTEM and last[0].content == "You are a helpful AI assistant."
    assert [m.content for m in last[1:]] == ["what's 2+2?", "It is 4, option B.", "sure?"]
    assert target.requests[0].temperature == 0.7


async def test_timings_and_usage_are_recorded() -> None:
    record = await _run(_script("hi", "Answer: C"), FakeTarget(["C."]))
    assistant = record.turns[1]
    assert (
        assistant.requested_at
        <= assistant.started_at
        <= assistant.first_token_at
        <= assistant.ended_at
    )  # type: ignore[operator]
    assert assistant.usage is not None and assistant.usage.completion_tokens == 1
    assert [a.outcome for a in assistant.attempts] == ["ok"]
    assert record.started_at <= record.ended_at
    assert not record.correct and record.final_answer == "C"


async def test_forced_answer_after_max_turns() -> None:
    steps: list[SimulatorStep] = []

    def policy(request: UserTurnRequest) -> str:
        steps.append(request.step)
        return "I'll go with B" if request.step is SimulatorStep.FORCE_ANSWER else "tell me more"

    record = await _run(policy, FakeTarget(), max_turns=3)
    assert record.termination is TerminationReason.FORCED_ANSWER
    assert record.user_messages == 3
    assert steps == [
        SimulatorStep.FIRST,
        SimulatorStep.NEXT,
        SimulatorStep.NEXT,
        SimulatorStep.FORCE_ANSWER,
    ]
    assert record.final_answer == "B" and record.answer_method == "fallback"


async def test_invalid_answer_counts_as_incorrect() -> None:
    record = await _run(_script("hi", "Answer: E"), FakeTarget())
    assert record.termination is TerminationReason.INVALID_ANSWER
    assert record.final_answer is None and not record.correct


async def test_permanent_target_error_ends_the_episode_with_its_attempts() -> None:
    target = FakeTarget([PermanentError("context_length_exceeded", status_code=400)])
    record = await _run(_script("hi", "Answer: B"), target)
    assert record.termination is TerminationReason.TARGET_ERROR
    assert "context_length_exceeded" in (record.error or "")
    failed = record.turns[-1]
    assert failed.role is Role.ASSISTANT and failed.text == ""
    assert [(a.outcome, a.status_code) for a in failed.attempts] == [("permanent", 400)]


async def test_simulator_error_and_empty_message() -> None:
    def broken(request: UserTurnRequest) -> str:
        raise SimulatorError("GPU fell over")

    record = await _run(broken, FakeTarget())
    assert record.termination is TerminationReason.SIMULATOR_ERROR
    assert "GPU fell over" in (record.error or "")
    record = await _run(_script("   "), FakeTarget())
    assert record.termination is TerminationReason.SIMULATOR_ERROR


async def test_timeout_keeps_the_turns_so_far() -> None:
    record = await _run(_script("hi", "more", "Answer: B"), FakeTarget(delay=0.2), deadline=0.05)
    assert record.termination is TerminationReason.TIMEOUT
    assert record.turns[0].role is Role.USER


async def test_auth_error_propagates_without_a_record() -> None:
    with pytest.raises(AuthenticationError):
        await _run(_script("hi"), FakeTarget([AuthenticationError("bad key", status_code=401)]))


async def test_an_empty_user_turn_is_sampled_again_with_a_new_seed() -> None:
    seeds: list[int] = []

    def flaky(request: UserTurnRequest) -> str:
        seeds.append(request.seed)
        if request.step is SimulatorStep.FIRST and len(seeds) == 1:
            return ""
        return "what is 2+2?" if request.step is SimulatorStep.FIRST else "Answer: B"

    record = await _run(flaky, FakeTarget())
    assert record.termination is TerminationReason.ANSWERED
    assert record.extra == {"empty_user_turns": 1}
    assert seeds[0] != seeds[1]
    assert [t.text for t in record.turns if t.role is Role.USER] == ["what is 2+2?", "Answer: B"]


async def test_a_failed_http_simulator_turn_keeps_its_attempts() -> None:
    from chatsim import TransientError
    from chatsim.protocol import get_format
    from chatsim.simulators import PromptedSimulator

    policy = CallPolicy(max_attempts=2, backoff_initial=0, backoff_max=0)
    sim_caller = TargetCaller(FakeTarget([TransientError("503", status_code=503)] * 2), policy)
    simulator = PromptedSimulator(sim_caller, get_format("chatbench-chat-v1"), spec="prompted:x")
    plan = EpisodePlan("m|q|0", "m", QUESTION, 0, seed=7)
    caller = TargetCaller(FakeTarget(), policy)
    record = await run_episode(
        plan, _settings(), DirectTurnSource(simulator), caller, MonotonicWallClock()
    )
    assert record.termination is TerminationReason.SIMULATOR_ERROR
    (turn,) = record.turns
    assert turn.role is Role.USER and turn.text == ""
    assert [(a.outcome, a.status_code) for a in turn.attempts] == [("transient", 503)] * 2


def test_episodes_in_flight_cover_target_slots_and_gpu_batches() -> None:
    from chatsim.runner import RunConfig, episodes_in_flight

    class Batched(ScriptedSimulator):
        batched = True
        max_batch_size = 128

    config = RunConfig(models=("a", "b"), concurrency=16)
    assert episodes_in_flight(config, ScriptedSimulator()) == 64
    assert episodes_in_flight(config, Batched()) == 256
    pinned = config.model_copy(update={"max_episodes_in_flight": 7})
    assert episodes_in_flight(pinned, Batched()) == 7


async def test_an_unexpected_exception_stops_the_run_and_keeps_the_records(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chatsim.runner import RunConfig, RunCrashed, execute_run, prepare_run
    from chatsim.targets import register_adapter, unregister_adapter

    register_adapter("fake", lambda model, settings: FakeTarget())
    try:
        setup = prepare_run(
            RunConfig(
                models=("fake:a",),
                simulator="scripted",
                source="college_math",
                limit=6,
                concurrency=1,
                max_episodes_in_flight=1,
            ),
            out_dir=tmp_path,
            run_id="r",
        )
        calls = {"n": 0}

        def policy(request: UserTurnRequest) -> str:
            calls["n"] += 1
            if calls["n"] > 4:
                raise RuntimeError("a bug in a custom simulator")
            return "Answer: B"

        setup.simulator = ScriptedSimulator(policy)
        with pytest.raises(RunCrashed, match="a bug in a custom simulator") as info:
            await execute_run(setup)
        assert "--resume" in str(info.value)
        from chatsim.recording import read_run

        assert len(read_run(tmp_path / "r").episodes) == 4
    finally:
        unregister_adapter("fake")


async def test_a_run_keeps_the_garbage_collectors_full_passes_off_its_set_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import gc

    from chatsim.runner import RunConfig, execute_run, prepare_run
    from chatsim.targets import register_adapter, unregister_adapter

    seen: list[int] = []

    def reply(request: object) -> str:
        seen.append(gc.get_freeze_count())
        return "B."

    register_adapter("fake", lambda model, settings: FakeTarget(default=reply))
    try:
        config = RunConfig(models=("fake:a",), simulator="scripted", source="college_math", limit=3)
        setup = prepare_run(config, out_dir=tmp_path, run_id="r")
        assert gc.get_freeze_count() == 0
        await execute_run(setup)
    finally:
        unregister_adapter("fake")
    assert len(seen) == 3 and min(seen) > 1000  # modules, questions, callers: frozen
    assert gc.get_freeze_count() == 0  # and handed back afterwards
