"""summarize(): hand-computed accuracy, intervals and counts on small fixed record sets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from records_kit import episode, outcomes
from rich.console import Console

from chatsim.metrics import (
    accuracy_table,
    cluster_bootstrap_interval,
    render_summary,
    se_interval,
    summarize,
)
from chatsim.protocol._types import TerminationReason as TR

# Five questions with per-question accuracy 1, 1, .5, .5, 0 -> mean .6.
FIVE = {"q1": [1, 1], "q2": [1, 1], "q3": [1, 0], "q4": [0, 1], "q5": [0, 0]}
# Hand calculation: deviations .4 .4 -.1 -.1 -.6, sum of squares .7, var .7/4 = .175,
# se = sqrt(.175 / 5) = .1870829; t(.975, df=4) = 2.7764451; half-width = .5194253.
T_975_4 = 2.7764451051977987
HALF = T_975_4 * math.sqrt(0.175 / 5)


def test_accuracy_is_mean_of_per_question_accuracy() -> None:
    s = summarize(outcomes("A", FIVE))
    m = s.models["A"]
    assert (m.episodes, m.scored, m.questions, m.correct) == (10, 10, 5, 6)
    assert m.accuracy == pytest.approx(0.6)
    assert m.episode_accuracy == pytest.approx(0.6)
    assert s.overall.accuracy == pytest.approx(0.6)


def test_se_interval_matches_hand_calculation() -> None:
    s = summarize(outcomes("A", FIVE), interval="se")
    ci = s.models["A"].ci
    assert ci.method == "se"
    assert ci.low == pytest.approx(0.6 - HALF)  # 0.0805747
    assert ci.high == 1.0  # 1.1194 clipped
    direct = se_interval(np.array([1.0, 1.0, 0.5, 0.5, 0.0]))
    assert direct.low == pytest.approx(0.0805747, abs=1e-6)


def test_unbalanced_repeats_weight_questions_equally() -> None:
    # q1: 1/1 (1.0); q2: 1/3 -> question mean (1 + 1/3) / 2 = 2/3; episode accuracy 2/4.
    eps = outcomes("A", {"q1": [1], "q2": [1, 0, 0]})
    m = summarize(eps).models["A"]
    assert m.accuracy == pytest.approx(2 / 3)
    assert m.episode_accuracy == pytest.approx(0.5)


def test_bootstrap_is_seeded_and_deterministic() -> None:
    values = np.linspace(0.0, 1.0, 23) ** 2
    a = cluster_bootstrap_interval(values, seed=7)
    b = cluster_bootstrap_interval(values, seed=7)
    c = cluster_bootstrap_interval(values, seed=8)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low is not None
    assert a.high is not None
    assert 0.0 <= a.low < values.mean() < a.high <= 1.0


def test_bootstrap_two_questions_hand_computed() -> None:
    # Resampled means of [0, 1] are 0, .5, 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5% and 97.5% quantiles are exactly 0 and 1.
    ci = cluster_bootstrap_interval(np.array([0.0, 1.0]))
    assert (ci.low, ci.high) == (0.0, 1.0)


def test_summary_is_deterministic_across_calls() -> None:
    eps = outcomes("A", FIVE)
    assert summarize(eps).model_dump_json() == summarize(eps).model_dump_json()


def test_no_episodes() -> None:
    s = summarize([])
    assert s.models == {}
    assert s.overall.episodes == 0
    assert s.overall.accuracy is None
    assert s.overall.ci.low is None
    assert s.overall.ci.note == "no data"
    assert accuracy_table(s) == []


def test_one_question_has_no_fake_interval() -> None:
    s = summarize(outcomes("A", {"q1": [1, 0, 1]}))
    m = s.models["A"]
    assert m.accuracy == pytest.approx(2 / 3)
    assert m.ci.low is None
    assert m.ci.high is None
    assert m.ci.note is not None
    assert "one question" in m.ci.note
    assert any("one question" in n for n in s.notes)


def test_model_with_no_valid_answers() -> None:
    eps = [episode("A", f"q{i}", termination=TR.INVALID_ANSWER) for i in range(3)]
    m = summarize(eps).models["A"]
    assert m.accuracy == 0.0
    assert m.invalid == 3
    assert m.correct == 0
    assert (m.ci.low, m.ci.high) == (0.0, 0.0)
    assert m.ci.note is not None
    assert "zero width" in m.ci.note


def test_model_with_only_errors_and_model_with_zero_episodes() -> None:
    eps = [
        episode("A", "q1", termination=TR.TARGET_ERROR),
        episode("A", "q2", termination=TR.TIMEOUT),
    ]
    s = summarize(eps, models=["B", "A"])
    assert list(s.models) == ["B", "A"]
    a, b = s.models["A"], s.models["B"]
    assert a.accuracy is None
    assert a.scored == 0
    assert a.errors == {"target_error": 1, "timeout": 1}
    assert b.episodes == 0
    assert b.accuracy is None
    assert any("B: no episodes" in n for n in s.notes)
    assert any("A: no episode reached an answer" in n for n in s.notes)


def test_errors_as_incorrect_option() -> None:
    eps = [episode("A", "q1"), episode("A", "q2", termination=TR.TARGET_ERROR)]
    assert summarize(eps).models["A"].accuracy == 1.0
    assert summarize(eps, errors_as_incorrect=True).models["A"].accuracy == 0.5


def test_counts_forced_invalid_errors_and_turns() -> None:
    eps = [
        episode("A", "q1", user_messages=2),
        episode("A", "q2", termination=TR.FORCED_ANSWER, user_messages=10),
        episode("A", "q3", termination=TR.INVALID_ANSWER, user_messages=3),
        episode("A", "q4", termination=TR.SIMULATOR_ERROR, user_messages=7),
    ]
    m = summarize(eps).models["A"]
    assert (m.forced, m.invalid, m.errors) == (1, 1, {"simulator_error": 1})
    assert m.mean_turns == pytest.approx(5.0)  # scored only: (2 + 10 + 3) / 3


def test_per_model_and_subject_cells() -> None:
    eps = outcomes("A", {"m1": [1, 1], "m2": [0, 0]}, subject="math")
    eps += outcomes("A", {"p1": [1, 0]}, subject="physics")
    eps += outcomes("B", {"m1": [0, 0]}, subject="math")
    s = summarize(eps)
    assert s.models["A"].subjects["math"].accuracy == 0.5
    assert s.models["A"].subjects["physics"].accuracy == 0.5
    assert s.models["B"].accuracy == 0.0
    assert s.subjects["math"].episodes == 6
    # Pooled over models, m1 is one question: (1, 1, 0, 0) -> .5; m2 -> 0; mean .25.
    assert s.subjects["math"].accuracy == pytest.approx(0.25)
    rows = accuracy_table(s)
    assert [(r.model, r.subject) for r in rows] == [
        ("A", "(all)"), ("A", "math"), ("A", "physics"), ("B", "(all)"),
    ]  # fmt: skip


def test_json_round_trip_and_render() -> None:
    s = summarize(outcomes("A", FIVE))
    data = json.loads(s.model_dump_json())
    assert data["models"]["A"]["accuracy"] == pytest.approx(0.6)
    assert data["interval_method"] == "cluster_bootstrap"
    console = Console(record=True, width=140)
    render_summary(s, console)
    text = console.export_text()
    assert "60.0%" in text
    assert "cluster bootstrap" in text


def test_errors_as_incorrect_reaches_the_per_question_table_and_pass_k() -> None:
    from chatsim.protocol._types import TerminationReason

    eps = outcomes("m", {"q1": [1, 1], "q2": [1, 0]})
    failed = eps[0].model_copy(
        update={
            "episode_id": "m|q1|9",
            "repeat": 9,
            "correct": False,
            "termination": TerminationReason.TARGET_ERROR,
            "final_answer": None,
        }
    )
    lenient = summarize([*eps, failed])
    strict = summarize([*eps, failed], errors_as_incorrect=True)
    q1 = {r.question_id: r for r in strict.questions}["q1"]
    assert (q1.scored, q1.correct) == (3, 2)
    assert {r.question_id: r for r in lenient.questions}["q1"].scored == 2
    assert strict.models["m"].accuracy == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert strict.models["m"].consistency.pass_k  # computed from the same strict rows
