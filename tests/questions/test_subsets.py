"""Subset names, aliases and seeded stratified sampling."""

from __future__ import annotations

import pytest

from chatsim import ConfigError, UnknownNameError
from chatsim.questions import (
    CHATBENCH_SUBJECTS,
    MMLU_SUBJECTS,
    SUBSET_ALIASES,
    Question,
    load_questions,
    resolve_subset,
)
from chatsim.questions._select import allocate, sample_stratified


@pytest.mark.parametrize(
    ("name", "subjects"),
    [
        ("elementary_math", ("elementary_mathematics",)),
        ("high_school_math", ("high_school_mathematics",)),
        ("college_math", ("college_mathematics",)),
        ("conceptual_physics", ("conceptual_physics",)),
        ("moral_scenarios", ("moral_scenarios",)),
        (
            "math",
            ("elementary_mathematics", "high_school_mathematics", "college_mathematics"),
        ),
        ("chatbench", CHATBENCH_SUBJECTS),
        ("college_mathematics", ("college_mathematics",)),
        ("astronomy", ("astronomy",)),
        (" College_Math , moral_scenarios ", ("college_mathematics", "moral_scenarios")),
        ("math,college_math", SUBSET_ALIASES["math"]),
    ],
)
def test_resolve_subset(name: str, subjects: tuple[str, ...]) -> None:
    assert resolve_subset(name) == subjects


def test_mmlu_has_57_subjects() -> None:
    assert len(set(MMLU_SUBJECTS)) == 57
    assert set(CHATBENCH_SUBJECTS) <= set(MMLU_SUBJECTS)


@pytest.mark.parametrize("name", ["colege_math", "", "math,nope", "hf"])
def test_unknown_subset_lists_valid_names(name: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_subset(name)
    message = str(info.value)
    assert "unknown subset" in message
    for valid in ("college_math", "math", "chatbench", "astronomy", "world_religions"):
        assert valid in message


def test_load_questions_unknown_subset() -> None:
    with pytest.raises(UnknownNameError, match="college_math"):
        load_questions("calculus")


def test_limit_is_stratified_across_subjects() -> None:
    questions = load_questions("chatbench", limit=10, seed=3)
    per_subject = {s: sum(q.subject == s for q in questions) for s in CHATBENCH_SUBJECTS}
    assert per_subject == dict.fromkeys(CHATBENCH_SUBJECTS, 2)


def test_limit_remainder_spread_one_each() -> None:
    questions = load_questions("chatbench", limit=12, seed=0)
    counts = sorted(sum(q.subject == s for q in questions) for s in CHATBENCH_SUBJECTS)
    assert counts == [2, 2, 2, 3, 3]


def test_sampling_is_deterministic_per_seed() -> None:
    first = load_questions("chatbench", limit=25, seed=7)
    again = load_questions("chatbench", limit=25, seed=7)
    other = load_questions("chatbench", limit=25, seed=8)
    assert [q.id for q in first] == [q.id for q in again]
    assert [q.id for q in first] != [q.id for q in other]


def test_subject_sample_does_not_depend_on_other_subjects() -> None:
    alone = load_questions("college_math", limit=4, seed=5)
    together = load_questions("college_math,conceptual_physics", limit=8, seed=5)
    assert [q for q in together if q.subject == "college_mathematics"] == alone


def test_limit_larger_than_pool_returns_all() -> None:
    assert len(load_questions("college_math", limit=1000)) == 99


def test_limit_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="limit must be at least 1"):
        load_questions("college_math", limit=0)


def test_sample_sorted_by_id() -> None:
    ids = [q.id for q in load_questions("math", limit=30, seed=2)]
    keyed = sorted(ids, key=lambda i: (i.rsplit("-", 1)[0], int(i.rsplit("-", 1)[1])))
    assert ids == keyed


@pytest.mark.parametrize(
    ("sizes", "limit", "expected_total"),
    [
        ({"a": 1, "b": 100, "c": 100}, 30, 30),
        ({"a": 1, "b": 2}, 10, 3),
        ({"a": 0, "b": 5}, 3, 3),
        ({"a": 5}, 5, 5),
    ],
)
def test_allocate_fills_up_from_larger_subjects(
    sizes: dict[str, int], limit: int, expected_total: int
) -> None:
    taken = allocate(sizes, limit, seed=0)
    assert sum(taken.values()) == expected_total
    assert all(0 <= taken[s] <= sizes[s] for s in sizes)
    if sizes == {"a": 1, "b": 100, "c": 100}:
        assert taken == {"a": 1, "b": 15, "c": 14} or taken == {"a": 1, "b": 14, "c": 15}


def test_sample_stratified_without_limit_sorts() -> None:
    qs = [
        Question(id=f"x-{i}", subject="x", stem="s", options=("a", "b", "c", "d"), gold="A")
        for i in (10, 2, 1)
    ]
    assert [q.id for q in sample_stratified(qs, None, 0)] == ["x-1", "x-2", "x-10"]
