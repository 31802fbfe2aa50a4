"""fit_history: oldest replies trimmed first, question/user messages/latest reply kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatsim import ConfigError
from chatsim.protocol import (
    CHATBENCH_CHAT_V1,
    CHATBENCH_TEXT_V1,
    TRIM_MARKER,
    Message,
    Role,
    SimulatorStep,
    fit_history,
    render_text,
)
from chatsim.protocol._trim import trim_middle
from chatsim.questions import Question

QUESTION = Question(
    id="q-0", subject="s", stem="Which is prime?", options=("4", "6", "7", "9"), gold="C"
)
MARK = TRIM_MARKER.strip()


def words(text: str) -> int:
    """A whitespace tokenizer: good enough to test budgets deterministically."""
    return len(text.split())


def reply(tag: str, n: int) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


HISTORY = (
    Message(Role.USER, "first question please"),
    Message(Role.ASSISTANT, reply("old", 200)),
    Message(Role.USER, "second question"),
    Message(Role.ASSISTANT, reply("mid", 200)),
    Message(Role.USER, "third question"),
    Message(Role.ASSISTANT, reply("new", 200)),
)


def size(history: tuple[Message, ...], step: SimulatorStep = SimulatorStep.NEXT) -> int:
    return words(render_text(CHATBENCH_TEXT_V1, QUESTION, history, step))


def fit(budget: int, history: tuple[Message, ...] = HISTORY) -> tuple[tuple[Message, ...], bool]:
    return fit_history(
        CHATBENCH_TEXT_V1,
        QUESTION,
        history,
        SimulatorStep.NEXT,
        count_tokens=words,
        budget=budget,
    )


def test_fitting_history_is_untouched() -> None:
    assert fit(size(HISTORY)) == (HISTORY, False)


def test_oldest_reply_trimmed_first() -> None:
    budget = size(HISTORY) - 50
    new, trimmed = fit(budget)
    assert trimmed
    assert size(new) <= budget
    assert MARK in new[1].content
    assert new[1].content.startswith("old0 old1")
    assert new[1].content.endswith("old198 old199")
    assert new[2:] == HISTORY[2:]  # later replies and all user messages intact
    assert new[0] == HISTORY[0]


def test_keeps_as_much_as_fits() -> None:
    budget = size(HISTORY) - 50
    new, _ = fit(budget)
    assert size(new) in (budget, budget - 1)  # the binary search stops at the largest keep


def test_next_oldest_trimmed_when_oldest_is_not_enough() -> None:
    budget = size(HISTORY) - 300
    new, trimmed = fit(budget)
    assert trimmed
    assert size(new) <= budget
    assert new[1].content == MARK
    assert MARK in new[3].content and new[3].content.startswith("mid0")
    assert new[5] == HISTORY[5]  # latest reply intact
    assert [m for m in new if m.role == Role.USER] == [m for m in HISTORY if m.role == Role.USER]


def test_latest_reply_is_never_trimmed_the_caller_fails_the_turn_instead() -> None:
    budget = size(HISTORY) - 500
    new, trimmed = fit(budget)
    assert trimmed
    assert size(new) > budget  # still over: the simulator fails this turn
    assert new[1].content == MARK
    assert new[3].content == MARK
    assert new[5] == HISTORY[5]


def test_question_always_kept() -> None:
    new, _ = fit(size(HISTORY) - 500)
    text = render_text(CHATBENCH_TEXT_V1, QUESTION, new, SimulatorStep.NEXT)
    assert QUESTION.render() in text


def test_impossible_budget_returns_most_trimmed() -> None:
    new, trimmed = fit(10)
    assert trimmed
    assert [m.content for m in new if m.role == Role.ASSISTANT][:2] == [MARK] * 2
    assert new[5] == HISTORY[5]  # the latest reply is never trimmed
    assert size(new) > 10  # the caller must notice and fail the turn


def test_history_without_replies_is_returned_unchanged() -> None:
    history = (Message(Role.USER, reply("u", 300)),)
    assert fit(10, history) == (history, False)


def test_short_replies_are_not_lengthened() -> None:
    history = (Message(Role.USER, reply("u", 300)), Message(Role.ASSISTANT, "ok"))
    new, trimmed = fit(10, history)
    assert new == history
    assert not trimmed


def test_renders_are_logarithmic() -> None:
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text)  # characters as tokens: the finest grain

    long = (
        Message(Role.USER, "hi"),
        Message(Role.ASSISTANT, "x" * 20_000),
        Message(Role.USER, "and?"),
        Message(Role.ASSISTANT, "B."),
    )
    full = len(render_text(CHATBENCH_TEXT_V1, QUESTION, long, SimulatorStep.NEXT))
    fit_history(
        CHATBENCH_TEXT_V1,
        QUESTION,
        long,
        SimulatorStep.NEXT,
        count_tokens=counting,
        budget=full - 10_000,
    )
    assert calls <= 2 * 20  # ~log2(20000) = 15 probes, plus a few checks


def test_chat_format_is_trimmed_too() -> None:
    new, trimmed = fit_history(
        CHATBENCH_CHAT_V1,
        QUESTION,
        HISTORY,
        SimulatorStep.NEXT,
        count_tokens=words,
        budget=400,
    )
    assert trimmed
    assert MARK in new[1].content
    assert new[5] == HISTORY[5]


def test_bad_budget() -> None:
    with pytest.raises(ConfigError, match="budget"):
        fit(0)


@pytest.mark.parametrize(
    ("text", "keep", "expected"),
    [
        ("abcdefghijklmnopqrst", 4, "ab [...] st"),
        ("abcdefghijklmnopqrst", 5, "abc [...] st"),
        ("abcdefghij", 4, "abcdefghij"),  # "ab [...] ij" would not be shorter
        ("abcdefghijklmnop", 0, "[...]"),
        ("abcdefghijklmnop", 1, "a [...]"),
        ("abc", 0, "abc"),  # the marker would be longer than the text
        ("abcdefghij", 10, "abcdefghij"),
    ],
)
def test_trim_middle(text: str, keep: int, expected: str) -> None:
    assert trim_middle(text, keep) == expected


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=5),
    cut=st.integers(min_value=0, max_value=700),
)
def test_fit_properties(lengths: list[int], cut: int) -> None:
    history: tuple[Message, ...] = ()
    for i, n in enumerate(lengths):
        history += (Message(Role.USER, f"user message {i}"), Message(Role.ASSISTANT, reply("r", n)))
    budget = max(1, size(history) - cut)
    new, trimmed = fit(budget, history)
    assert len(new) == len(history)
    assert [m for m in new if m.role == Role.USER] == [m for m in history if m.role == Role.USER]
    assert trimmed == (new != history)
    last = len(history) - 1  # the latest reply is never trimmed
    floor = tuple(
        Message(
            m.role,
            trim_middle(m.content, 0) if m.role == Role.ASSISTANT and i < last else m.content,
        )
        for i, m in enumerate(history)
    )
    assert new[last] == history[last]
    if size(floor) <= budget:
        assert size(new) <= budget
    if not trimmed:
        assert size(history) <= budget or size(floor) == size(history)
