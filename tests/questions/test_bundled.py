"""Bundled ChatBench subjects: counts, ids, duplicates, Redux matching, selections, dev."""

from __future__ import annotations

from collections import Counter

import pytest

from chatsim import ConfigError, UnknownNameError
from chatsim.questions import (
    CHATBENCH_SUBJECTS,
    SELECTIONS,
    load_dev_examples,
    load_questions,
)
from chatsim.questions._bundled import load_bundled, redux_labels, redux_unmatched

TEST_ROWS = {
    "elementary_mathematics": 378,
    "high_school_mathematics": 270,
    "college_mathematics": 100,
    "conceptual_physics": 235,
    "moral_scenarios": 895,
}
# MMLU-Redux error_type "ok" per subject (SOURCES.md); every Redux row matches an MMLU row.
REDUX_OK = {
    "elementary_mathematics": 97,
    "high_school_mathematics": 99,
    "college_mathematics": 99,
    "conceptual_physics": 92,
    "moral_scenarios": 97,
}


@pytest.mark.parametrize("subject", CHATBENCH_SUBJECTS)
def test_test_split_counts_and_ids(subject: str) -> None:
    questions = load_bundled(subject, "test")
    duplicates = 1 if subject == "elementary_mathematics" else 0
    assert len(questions) == TEST_ROWS[subject] - duplicates
    assert questions[0].id == f"{subject}-test-0"
    assert questions[-1].id == f"{subject}-test-{TEST_ROWS[subject] - 1}"
    assert len({q.id for q in questions}) == len(questions)
    assert all(q.subject == subject and q.source == "mmlu" for q in questions)


def test_duplicate_row_dropped_after_ids() -> None:
    ids = {q.id for q in load_bundled("elementary_mathematics", "test")}
    assert "elementary_mathematics-test-289" not in ids
    assert {"elementary_mathematics-test-288", "elementary_mathematics-test-290"} <= ids


def test_known_question_content() -> None:
    question = load_bundled("college_mathematics", "test")[0]
    assert question.stem.startswith("Let k be the number of real solutions of the equation e^x")
    assert question.options == ("k = 0 and n = 1", "k = 1 and n = 0", "k = n = 1", "k > 1")
    assert question.gold == "B"


@pytest.mark.parametrize("subject", CHATBENCH_SUBJECTS)
def test_every_redux_row_matches_mmlu(subject: str) -> None:
    assert redux_unmatched(subject) == ()
    labels = redux_labels(subject)
    assert len(labels) == 100
    assert Counter(labels.values())["ok"] == REDUX_OK[subject]


def test_misencoded_apostrophe_still_matches() -> None:
    # The Redux file has byte 0xD5 (Mac-Roman apostrophe) in "my sister’s head".
    labels = redux_labels("moral_scenarios")
    matched = [q for q in load_bundled("moral_scenarios") if q.id in labels]
    assert any("I slapped my sister’s head" in q.stem for q in matched)


@pytest.mark.parametrize(
    ("subset", "selection", "count"),
    [
        ("chatbench", None, 484),
        ("chatbench", "redux-ok", 484),
        ("chatbench", "redux", 500),
        ("chatbench", "all", 1877),
        ("math", None, 97 + 99 + 99),
        ("college_math", None, 99),
        ("conceptual_physics", "redux", 100),
        ("moral_scenarios", "all", 895),
        ("elementary_mathematics", "all", 377),
    ],
)
def test_selection_counts(subset: str, selection: str | None, count: int) -> None:
    questions = load_questions(subset, selection=selection)
    assert len(questions) == count
    assert len({q.id for q in questions}) == count


def test_default_selection_is_redux_ok() -> None:
    questions = load_questions("conceptual_physics")
    labels = redux_labels("conceptual_physics")
    assert all(labels[q.id] == "ok" for q in questions)


def test_result_sorted_naturally_by_id() -> None:
    ids = [q.id for q in load_questions("college_math", selection="all")]
    assert ids == [f"college_mathematics-test-{i}" for i in range(100)]


@pytest.mark.parametrize("split", ["dev", "val"])
def test_other_splits_default_to_all(split: str) -> None:
    questions = load_questions("chatbench", split=split)
    expected = 5 * 5 if split == "dev" else 41 + 29 + 11 + 26 + 100
    assert len(questions) == expected
    assert all(f"-{split}-" in q.id for q in questions)


@pytest.mark.parametrize("selection", ["redux-ok", "redux", "all"])
def test_redux_selection_does_not_filter_other_splits(selection: str) -> None:
    # Redux labels exist for test rows only: dev/val always give every question.
    assert len(load_questions("college_math", split="dev", selection=selection)) == 5


def test_unknown_split() -> None:
    with pytest.raises(UnknownNameError, match="test, dev, val"):
        load_questions("college_math", split="train")


def test_unknown_selection_lists_names() -> None:
    with pytest.raises(UnknownNameError, match="redux-ok, redux, all"):
        load_questions("chatbench", selection="verified")
    assert SELECTIONS == ("redux-ok", "redux", "all")


@pytest.mark.parametrize("subject", CHATBENCH_SUBJECTS)
def test_dev_examples(subject: str) -> None:
    examples = load_dev_examples(subject)
    assert [q.id for q in examples] == [f"{subject}-dev-{i}" for i in range(5)]


def test_dev_examples_accept_alias() -> None:
    assert load_dev_examples("college_math")[0].subject == "college_mathematics"


def test_dev_examples_need_one_subject() -> None:
    with pytest.raises(ConfigError, match="one subject"):
        load_dev_examples("math")


def test_questions_render_for_the_simulator() -> None:
    question = load_questions("college_math", limit=1)[0]
    lines = question.render().splitlines()
    assert [line[:3] for line in lines[-4:]] == ["A. ", "B. ", "C. ", "D. "]
