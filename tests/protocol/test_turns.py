"""Turn rules: interpret_user_turn per step, next_step boundaries, termination, cleaning."""

from __future__ import annotations

import pytest

from chatsim import ConfigError
from chatsim.protocol import (
    DEFAULT_MAX_TURNS,
    ParsedAnswer,
    SimulatorStep,
    TerminationReason,
    UserTurnDecision,
    clean_generated,
    interpret_user_turn,
    next_step,
    termination_for,
)

CONVERSING = [SimulatorStep.FIRST, SimulatorStep.NEXT]


@pytest.mark.parametrize("step", CONVERSING)
@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Answer: B", "B"),
        ("  answer: (c) [END]", "C"),
        ("**Answer: D**", "D"),
        ("Answer: A\n\nThanks!", "A"),
        ('"Answer: B"', "B"),
    ],
)
def test_answer_statement_is_final(step: SimulatorStep, text: str, letter: str) -> None:
    decision = interpret_user_turn(text, step)
    assert decision == UserTurnDecision(final=ParsedAnswer(letter, "explicit"), message=None)


@pytest.mark.parametrize("step", CONVERSING)
@pytest.mark.parametrize("text", ["Answer: E", "Answer: I am not sure", "Answer: B or C"])
def test_unparseable_answer_statement_is_final_without_letter(
    step: SimulatorStep, text: str
) -> None:
    decision = interpret_user_turn(text, step)
    assert decision.message is None
    assert decision.final == ParsedAnswer(None, "none")


@pytest.mark.parametrize("step", CONVERSING)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("How do I solve this? [END]", "How do I solve this?"),
        ("  what's a derivative?\n", "what's a derivative?"),
        ("So the Answer: B is right?", "So the Answer: B is right?"),
        ("I think the answer is B, can you check?", "I think the answer is B, can you check?"),
        ("B", "B"),
        ("Thanks [END] [ASSISTANT] You're welcome", "Thanks"),
        ("ok\n\n[ASSISTANT] Sure!", "ok"),
    ],
)
def test_free_text_is_a_message_even_if_it_mentions_an_answer(
    step: SimulatorStep, text: str, message: str
) -> None:
    assert interpret_user_turn(text, step) == UserTurnDecision(final=None, message=message)


@pytest.mark.parametrize("step", CONVERSING)
@pytest.mark.parametrize("text", ["", "   ", "[END]", " \n[END] trailing"])
def test_empty_message_is_returned_as_empty(step: SimulatorStep, text: str) -> None:
    assert interpret_user_turn(text, step) == UserTurnDecision(final=None, message="")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: C", ParsedAnswer("C", "explicit")),
        ("I'll go with B [END]", ParsedAnswer("B", "fallback")),
        ("D", ParsedAnswer("D", "fallback")),
        ("I still don't know", ParsedAnswer(None, "none")),
        ("", ParsedAnswer(None, "none")),
    ],
)
def test_force_answer_is_always_final(text: str, expected: ParsedAnswer) -> None:
    decision = interpret_user_turn(text, SimulatorStep.FORCE_ANSWER)
    assert decision == UserTurnDecision(final=expected, message=None)


def test_custom_stop_and_labels() -> None:
    decision = interpret_user_turn("hi <eot> more", SimulatorStep.NEXT, stop="<eot>", labels=())
    assert decision.message == "hi"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello [END]", "hello"),
        ("hello [END] world [END]", "hello"),
        ("  hello  ", "hello"),
        ("hello\n\n[ASSISTANT] hi", "hello"),
        ("hello [USER] again", "hello"),
        ("hello [SYSTEM] x", "hello"),
        ("[END]", ""),
        ("no marker", "no marker"),
        ("a [ASSISTANT] b [END]", "a"),
        (" [USER] hello [END]", "hello"),
        ("[USER] hi [USER] again", "hi"),
        ("[ASSISTANT]", ""),
    ],
)
def test_clean_generated(text: str, expected: str) -> None:
    assert clean_generated(text) == expected


def test_clean_generated_custom_stop() -> None:
    assert clean_generated("x</s>y", stop="</s>") == "x"


def test_default_max_turns_is_chatbench() -> None:
    assert DEFAULT_MAX_TURNS == 10


def test_next_step_default_ten_turns() -> None:
    steps = [next_step(n) for n in range(12)]
    assert steps[0] is SimulatorStep.FIRST
    assert steps[1:10] == [SimulatorStep.NEXT] * 9
    assert steps[10:] == [SimulatorStep.FORCE_ANSWER] * 2


def test_next_step_one_turn() -> None:
    assert next_step(0, 1) is SimulatorStep.FIRST
    assert next_step(1, 1) is SimulatorStep.FORCE_ANSWER


def test_next_step_two_turns() -> None:
    assert [next_step(n, 2) for n in range(3)] == [
        SimulatorStep.FIRST,
        SimulatorStep.NEXT,
        SimulatorStep.FORCE_ANSWER,
    ]


@pytest.mark.parametrize("max_turns", [0, -1])
def test_next_step_rejects_bad_max_turns(max_turns: int) -> None:
    with pytest.raises(ConfigError, match="max_turns"):
        next_step(0, max_turns)


def test_next_step_rejects_negative_count() -> None:
    with pytest.raises(ValueError, match="user_messages_sent"):
        next_step(-1, 10)


@pytest.mark.parametrize(
    ("final", "step", "reason"),
    [
        (ParsedAnswer("A", "explicit"), SimulatorStep.NEXT, TerminationReason.ANSWERED),
        (ParsedAnswer("B", "explicit"), SimulatorStep.FIRST, TerminationReason.ANSWERED),
        (
            ParsedAnswer("C", "fallback"),
            SimulatorStep.FORCE_ANSWER,
            TerminationReason.FORCED_ANSWER,
        ),
        (ParsedAnswer(None, "none"), SimulatorStep.NEXT, TerminationReason.INVALID_ANSWER),
        (ParsedAnswer(None, "none"), SimulatorStep.FORCE_ANSWER, TerminationReason.INVALID_ANSWER),
    ],
)
def test_termination_for(
    final: ParsedAnswer, step: SimulatorStep, reason: TerminationReason
) -> None:
    assert termination_for(final, step) is reason
    assert not reason.is_error
