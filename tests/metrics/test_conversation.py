"""Stated-answer extraction, question copying, behaviour, per-question table, pass^k."""

from __future__ import annotations

import pytest
from records_kit import assistant, episode, user

from chatsim.metrics._answers import copies_question, question_overlap
from chatsim.metrics._behaviour import behaviour_summary, episode_behaviour
from chatsim.metrics._questions import consistency, pass_hat_k, question_table
from chatsim.protocol import stated_answer
from chatsim.protocol._types import TerminationReason as TR


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("Answer: C", "C"),
        ("Let's check each option. A is wrong, B too.\n\nThe correct answer is **D**.", "D"),
        ("I first thought B. On reflection, the answer is (A).", "A"),
        ("So we get $\\boxed{B}$", "B"),
        ("Option C is correct because 2 + 2 = 4.", "C"),
        ("A is wrong. B is wrong.\n\n**C**", "C"),
        ("Could you share the options?", None),
        ("The answer is a number between 3 and 4.", None),
    ],
)
def test_stated_answer(reply: str, letter: str | None) -> None:
    assert stated_answer(reply) == letter


def test_question_copy_rule() -> None:
    stem = "What is the derivative of x^2 at x = 3?"
    assert (
        question_overlap("hi can you help: what is the derivative of x^2 at x=3? A. 6", stem) == 1.0
    )
    assert copies_question("What is the derivative of x^2 at x = 3?", stem)
    assert not copies_question("how do derivatives work", stem)
    # 9 distinct stem words {what is the derivative of x 2 at 3} ('x' twice); 5 present.
    assert question_overlap("derivative of x at 3", stem) == pytest.approx(5 / 9)


def _conversation(final: str, gold: str = "A") -> list:
    return [
        user(0, "What is the derivative of x^2 at x = 3?", 0.0, 1.0),
        assistant(1, "I think it's B.\n\nAnswer: B", 1.0, 2.0),
        user(2, "are you sure?", 2.0, 3.0),
        assistant(3, "Sorry, the correct answer is A.", 3.0, 4.0),
        user(4, f"Answer: {final}", 4.0, 5.0),
    ]


def test_episode_behaviour_follow_and_change() -> None:
    ep = episode("m", "q1", True, turns=_conversation("A"), user_messages=2)
    b = episode_behaviour(ep, "What is the derivative of x^2 at x = 3?")
    assert b.stated == ("B", "A")
    assert b.copied_question is True
    assert (b.last_stated, b.follows, b.changed) == ("A", True, True)
    assert (b.wrong_to_right, b.right_to_wrong) == (True, False)


def test_behaviour_summary_counts() -> None:
    eps = [
        episode("m", "q1", True, turns=_conversation("A"), user_messages=2),
        episode("m", "q2", False, turns=_conversation("B"), user_messages=2, repeat=1),
        episode("m", "q3", termination=TR.TARGET_ERROR),  # not scored: ignored
        episode("m", "q4", True, user_messages=1),  # no assistant turns recorded
    ]
    s = behaviour_summary(eps, {"q1": "What is the derivative of x^2 at x = 3?"})
    assert s.episodes == 3
    assert s.turns_histogram == {1: 1, 2: 2}
    assert (s.copy_checked, s.copied_question) == (1, 1)
    assert (s.assistant_stated, s.assistant_last_correct) == (2, 2)
    assert (s.follow_checked, s.follows) == (2, 1)
    assert (s.changed, s.wrong_to_right, s.right_to_wrong) == (2, 2, 0)


def test_pass_hat_k_hand_values() -> None:
    assert pass_hat_k(3, 2, 1) == pytest.approx(2 / 3)
    assert pass_hat_k(3, 2, 2) == pytest.approx(1 / 3)  # C(2,2)/C(3,2)
    assert pass_hat_k(3, 2, 3) == 0.0
    with pytest.raises(ValueError, match="exceeds"):
        pass_hat_k(2, 1, 3)


def test_question_table_majority_and_consistency() -> None:
    eps = [
        episode("m", "q1", True, repeat=0),
        episode("m", "q1", True, repeat=1),
        episode("m", "q1", False, repeat=2),  # answers A, A, B -> majority A (gold)
        episode("m", "q2", True, repeat=0),
        episode("m", "q2", False, repeat=1),  # A, B tie -> credit 1/2
        episode("m", "q2", termination=TR.INVALID_ANSWER, repeat=2),
        episode("m", "q3", termination=TR.TARGET_ERROR),  # no scored episode: left out
    ]
    rows = question_table(eps)
    assert [(r.question_id, r.scored, r.correct, r.invalid, r.errors) for r in rows] == [
        ("q1", 3, 2, 0, 0),
        ("q2", 3, 1, 1, 0),
        ("q3", 0, 0, 0, 1),
    ]
    assert rows[0].majority == "A"
    assert rows[1].answers == {"A": 1, "B": 1}
    c = consistency(rows)
    assert c.questions == 2
    assert c.min_repeats == 3
    # pass^1 = (2/3 + 1/3)/2 = .5; pass^2 = (1/3 + 0)/2; pass^3 = 0.
    assert c.pass_k == pytest.approx({1: 0.5, 2: 1 / 6, 3: 0.0})
    assert c.majority_accuracy == pytest.approx((1 + 0.5) / 2)


def test_consistency_without_questions() -> None:
    c = consistency([])
    assert (c.questions, c.pass_k, c.majority_accuracy) == (0, {}, None)
