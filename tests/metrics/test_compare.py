"""compare(): paired differences, verdict wording, AI-alone gap."""

from __future__ import annotations

from pathlib import Path

import pytest
from records_kit import episode, outcomes

from chatsim.baseline import BaselineRecord
from chatsim.metrics import IntervalSpec, compare, summarize
from chatsim.metrics._compare import verdict
from chatsim.metrics._gap import baseline_gaps
from chatsim.metrics._paired import PairedDifference, paired_difference
from chatsim.metrics._stats import Interval


def _spec(n: int, pattern: list[int]) -> dict[str, list[int]]:
    return {f"q{i}": [pattern[i % len(pattern)]] * 2 for i in range(n)}


def test_clear_difference_verdict() -> None:
    a = outcomes("A", _spec(20, [1]))
    b = outcomes("B", _spec(20, [1, 0]))  # half the questions right
    c = compare([a, b])
    overall = c.pairs[0]
    assert (overall.a, overall.b, overall.subject) == ("A", "B", "(all)")
    assert overall.diff.diff == pytest.approx(0.5)
    assert overall.diff.questions == 20
    assert overall.diff.ci.low is not None
    assert overall.diff.ci.low > 0
    assert overall.diff.p_value is not None
    assert overall.diff.p_value < 0.01
    assert overall.verdict.startswith("A beats B by 50 points, 95% CI ")
    # Swapped order: the verdict names the winner first, with a positive difference.
    swapped = compare([b, a]).pairs[0].verdict
    assert swapped.startswith("A beats B by 50 points")


def test_unclear_difference_verdict() -> None:
    a = outcomes("A", _spec(20, [1, 0]))
    b = outcomes("B", _spec(20, [0, 1]))  # same accuracy, different questions
    pair = compare([a, b]).pairs[0]
    assert pair.diff.diff == pytest.approx(0.0)
    assert pair.verdict.startswith("No clear difference between A and B: A − B = 0 points")
    assert "beats" not in pair.verdict


def test_verdict_wording_edge_cases() -> None:
    iv = Interval(low=0.03, high=0.11, method="cluster_bootstrap")
    d = PairedDifference(questions=40, a=0.8, b=0.73, diff=0.07, ci=iv, p_value=0.004)
    assert verdict("A", "B", d, "math") == (
        "A beats B on math by 7 points, 95% CI 3–11 (40 questions, p=0.004)."
    )
    neg = PairedDifference(
        questions=5, a=0.5, b=0.6, diff=-0.1,
        ci=Interval(low=-0.3, high=0.1, method="cluster_bootstrap"), p_value=0.4,
    )  # fmt: skip
    text = verdict("A", "B", neg)
    assert text.startswith(
        "No clear difference between A and B: A − B = −10 points, 95% CI −30 to 10"
    )
    assert "treat with caution" in text
    one = paired_difference({"q1": 1.0}, {"q1": 0.0})
    assert "too few to compare" in verdict("A", "B", one)
    none = paired_difference({"q1": 1.0}, {"q2": 0.0})
    assert verdict("A", "B", none) == "A and B share no answered questions: no comparison."


def test_per_subject_pairs_and_same_model_in_two_runs(tmp_path: Path) -> None:
    run1 = outcomes("gpt", _spec(4, [1]), subject="math") + outcomes("gpt", _spec(4, [1]), "law")
    run2 = outcomes("gpt", _spec(4, [0]), subject="math") + outcomes("gpt", _spec(4, [1]), "law")
    c = compare([run1, run2])
    assert c.models == ["gpt (run1)", "gpt (run2)"]
    assert [p.subject for p in c.pairs] == ["(all)", "law", "math"]
    # Subject-only question ids overlap (q0..q3 in both subjects): pairing is per question id.
    math = c.pairs[2]
    assert math.diff.diff == pytest.approx(1.0)
    assert c.latency["gpt (run1)"].calls == 0


def test_only_shared_questions_are_paired() -> None:
    a = outcomes("A", {"q1": [1], "q2": [1], "q3": [1]})
    b = outcomes("B", {"q2": [0], "q3": [1], "q9": [0]})
    d = compare([a + b]).pairs[0].diff
    assert d.questions == 2
    assert (d.a, d.b, d.diff) == (1.0, 0.5, 0.5)


def _alone(model: str, qid: str, correct: bool, mode: str = "zero_shot") -> BaselineRecord:
    return BaselineRecord(
        model=model, question_id=qid, subject="math", mode=mode, repeat=0, gold="A",  # type: ignore[arg-type]
        answer="A" if correct else "B", correct=correct, text="A", requested_at=0, started_at=0,
        ended_at=1,
    )  # fmt: skip


def test_baseline_gap_is_paired_over_questions() -> None:
    eps = outcomes("A", {"q1": [1, 0], "q2": [0, 0], "q3": [1, 1]})  # .5, 0, 1
    alone = [_alone("A", "q1", True), _alone("A", "q2", True), _alone("A", "q3", True)]
    alone.append(_alone("A", "q1", False, "free_text"))
    failed = _alone("A", "q2", True, "free_text").model_copy(update={"error": "boom"})
    rows = baseline_gaps(eps, [*alone, failed], IntervalSpec())
    by_mode = {r.mode: r for r in rows}
    assert set(by_mode) == {"zero_shot", "free_text"}
    zs = by_mode["zero_shot"].gap
    assert (zs.questions, zs.a, zs.b) == (3, 0.5, 1.0)
    assert zs.diff == pytest.approx(-0.5)
    ft = by_mode["free_text"]
    assert ft.ai_alone_records == 1  # the failed call is left out
    assert ft.gap.questions == 1
    assert ft.gap.ci.low is None
    s = summarize(eps, baseline=alone)
    assert len(s.baseline) == 2
    assert episode  # the kit's builder is used elsewhere; keep the import honest


def test_sign_flip_p_value_is_exact_for_few_questions() -> None:
    import numpy as np

    from chatsim.metrics._stats import sign_flip_p_value

    # 3 questions all won: of the 8 sign patterns, 2 reach |mean| = 1 -> p = 0.25.
    assert sign_flip_p_value(np.array([1.0, 1.0, 1.0])) == 0.25
    # 4 wins and a tie out of 5: 2 of 32 patterns reach the mean (the tie's sign is free: x2).
    assert sign_flip_p_value(np.array([1.0, 1.0, 1.0, 1.0, 0.0])) == 4 / 32
    assert sign_flip_p_value(np.array([])) is None


def test_three_clean_wins_are_not_called_a_win() -> None:
    from chatsim.metrics import compare

    a = outcomes("A", {"q1": [1], "q2": [1], "q3": [1]})
    b = outcomes("B", {"q1": [0], "q2": [0], "q3": [0]})
    (pair,) = compare([a + b]).pairs
    assert pair.verdict.startswith("No clear difference"), pair.verdict


def test_draws_are_kept_only_inside_a_scope_and_change_no_number() -> None:
    import numpy as np

    from chatsim.metrics import _stats

    rng = np.random.default_rng(3)
    values, diffs = rng.random(300), rng.normal(size=300)
    alone = (_stats.cluster_bootstrap_interval(values), _stats.paired_bootstrap(diffs))
    assert _stats._kept == {}  # no scope: nothing held after the call
    with _stats.keeping_draws():
        with _stats.keeping_draws():  # nested: the outer scope's draws
            inside = (_stats.bootstrap_means(values, 2000, 1), _stats.paired_bootstrap(diffs))
        assert set(_stats._kept) == {"draws", "signs"}
        again = _stats.bootstrap_means(values, 2000, 1)  # from the kept draws
    assert _stats._kept == {}
    assert np.array_equal(inside[0], again)
    assert np.array_equal(again, _stats.bootstrap_means(values, 2000, 1))  # drawn afresh
    assert inside[1] == alone[1]


def test_pairing_within_one_table_equals_the_string_join() -> None:
    import random

    import numpy as np
    import pyarrow as pa

    from chatsim.metrics._frame import Frame
    from chatsim.metrics._pairing import paired_question_means

    rng = random.Random(5)
    n = 600
    table = pa.table({
        "model": pa.array([rng.choice("ab") for _ in range(n)]).dictionary_encode(),
        "question_id": pa.array([f"q{rng.randrange(30)}" for _ in range(n)]).dictionary_encode(),
        "subject": pa.array([rng.choice(["s1", "s2", None]) for _ in range(n)]).dictionary_encode(),
        "repeat": pa.array([rng.randrange(-1, 3) for _ in range(n)], pa.int64()),
        "correct": pa.array([rng.random() < 0.6 for _ in range(n)]),
    })  # fmt: skip
    copy = pa.Table.from_batches(table.to_batches())  # another table: the string join
    frame, other = Frame(table), Frame(copy)
    masks = [np.array([rng.random() < 0.8 for _ in range(n)]) for _ in range(2)]
    side_a = [f.where(f.equals("model", "a")) for f in (frame, other)]
    side_b = [f.where(f.equals("model", "b")) for f in (frame, other)]
    mask_a = [masks[0][f.rows] for f in side_a]
    mask_b = [masks[1][f.rows] for f in side_b]
    fast = paired_question_means(side_a[0], mask_a[0], side_b[0], mask_b[0])
    joined = paired_question_means(side_a[0], mask_a[0], side_b[1], mask_b[1])
    assert fast == joined
    assert fast[4] > 0 and fast[2] > fast[4]  # some pairs, some rows left without a partner
