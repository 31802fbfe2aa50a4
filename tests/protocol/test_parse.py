"""parse_answer: explicit forms, the fallback parser, ambiguity, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsim.protocol import ParsedAnswer, parse_answer

EXPLICIT = [
    ("Answer: B", "B"),
    ("answer: b", "B"),
    ("ANSWER: C", "C"),
    ("Answer:D", "D"),
    ("Answer : A", "A"),
    ("Answer: (B)", "B"),
    ("Answer: ( c )", "C"),
    ("Answer: [D]", "D"),
    ("Answer: B.", "B"),
    ("Answer: B)", "B"),
    ("Answer: B. 42", "B"),
    ("Answer: C - because the slope is 2", "C"),
    ("**Answer: B**", "B"),
    ("**Answer:** B", "B"),
    ("Answer: **B**", "B"),
    ("*Answer: A*", "A"),
    ("`Answer: D`", "D"),
    ('"Answer: A"', "A"),
    ("'Answer: C'", "C"),
    ("“Answer: B”", "B"),
    ("   \n Answer: A \n\n", "A"),
    ("## Answer: D", "D"),
    ("> Answer: C", "C"),
    ("Answer: B\n\nThanks for the help!", "B"),
    ("I worked it out.\nAnswer: C", "C"),
    ("Answer: B\nAnswer: B", "B"),
    ("Answer：A", "A"),
    ("Answer: $B$", "B"),
]


@pytest.mark.parametrize(("text", "letter"), EXPLICIT)
def test_explicit_forms(text: str, letter: str) -> None:
    assert parse_answer(text) == ParsedAnswer(letter, "explicit")


FALLBACK = [
    ("B", "B"),
    ("b", "B"),
    ("(C)", "C"),
    ("C.", "C"),
    ("D)", "D"),
    ("  A  ", "A"),
    ('"B"', "B"),
    ("**C**", "C"),
    ("The answer is **D**.", "D"),
    ("\\boxed{D}", "D"),
    ("$\\boxed{A}$", "A"),
    ("\\boxed{\\text{C}}", "C"),
    ("I think it's (C).", "C"),
    ("The correct answer is A.", "A"),
    ("the answer is B", "B"),
    ("My final answer is (D)", "D"),
    ("Final answer: D", "D"),
    ("My answer: C", "C"),
    ("I'll go with B", "B"),
    ("I'm going with option C, thanks.", "C"),
    ("I choose A", "A"),
    ("I'd pick D.", "D"),
    ("Option D", "D"),
    ("option D it is", "D"),
    ("choice B", "B"),
    ("B. 42", "B"),
    ("B) because it halves", "B"),
    ("The correct answer is C, as the assistant said.", "C"),
    ("So answer is B and I'm confident. B is right.", "B"),
]


@pytest.mark.parametrize(("text", "letter"), FALLBACK)
def test_fallback_forms(text: str, letter: str) -> None:
    assert parse_answer(text) == ParsedAnswer(letter, "fallback")


NONE = [
    "",
    "   ",
    "I don't know",
    "Answer: E",
    "Answer: 42",
    "Answer: Because the slope is positive",
    "Answer: B or C",
    "Answer: B/C",
    "Answer: A, B",
    "Answer: A\nAnswer: B",
    "A or B?",
    "Either (A) or (B).",
    "I think (A) is wrong, but (B) could be right",
    "The answer is a number",
    "E",
    "(E)",
    "\\boxed{E}",
    "The correct answer is E.",
    "option 3",
    "Can you explain that again?",
    "I'll go with the first one",
    "Answer:",
]


@pytest.mark.parametrize("text", NONE)
def test_nothing_or_ambiguous_gives_none(text: str) -> None:
    assert parse_answer(text) == ParsedAnswer(None, "none")


def test_explicit_wins_over_fallback_mentions() -> None:
    text = "Option A looked right at first, but (C) is wrong too.\nAnswer: B"
    assert parse_answer(text) == ParsedAnswer("B", "explicit")


@given(st.text())
def test_never_returns_a_letter_outside_a_to_d(text: str) -> None:
    result = parse_answer(text)
    assert result.letter in (None, "A", "B", "C", "D")
    assert (result.letter is None) == (result.method == "none")


@given(
    letter=st.sampled_from("ABCD"),
    lower=st.booleans(),
    parens=st.booleans(),
    bold=st.booleans(),
    pad=st.text(alphabet=" \n\t", max_size=3),
    tail=st.sampled_from(["", ".", ". Thanks!", "\n\nThat was fun.", " (final)"]),
)
def test_answer_x_is_always_explicit(
    letter: str, lower: bool, parens: bool, bold: bool, pad: str, tail: str
) -> None:
    shown = letter.lower() if lower else letter
    shown = f"({shown})" if parens else shown
    text = f"Answer: {shown}"
    text = f"**{text}**" if bold else text
    assert parse_answer(pad + text + tail + pad) == ParsedAnswer(letter, "explicit")


@given(letter=st.sampled_from("ABCD"), prefix=st.text(max_size=40))
def test_explicit_line_after_free_text(letter: str, prefix: str) -> None:
    # Any free text followed by an own-line explicit answer is explicit, unless the free text
    # itself holds an "Answer:" line.
    if "answer" in prefix.lower():
        return
    assert parse_answer(f"{prefix}\nAnswer: {letter}").letter == letter
