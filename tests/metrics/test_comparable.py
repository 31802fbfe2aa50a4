"""Only comparable runs are compared: the pure check, the override, and compare() pairing by
(question, repeat)."""

from __future__ import annotations

from pathlib import Path

import pytest
from records_kit import episode, outcomes
from run_kit import write_run

from chatsim import ConfigError
from chatsim.metrics import (
    COMPARED_FIELDS,
    IncomparableRunsError,
    check_comparable,
    compare,
    run_differences,
)
from chatsim.metrics._comparable import RunFacts
from chatsim.protocol import TerminationReason
from chatsim.recording import SCHEMA_VERSION, read_run


def _spec(n: int, pattern: list[int], repeats: int = 2) -> dict[str, list[int]]:
    return {f"q{i}": [pattern[i % len(pattern)]] * repeats for i in range(n)}


def _runs(tmp_path: Path, b_config: dict[str, object], **b_header: object) -> list[Path]:
    a = write_run(tmp_path / "A", outcomes("A", _spec(12, [1])), repeats=2)
    config = {"repeats": 2, **b_config}
    b = write_run(tmp_path / "B", outcomes("B", _spec(12, [1, 0])), **config, **b_header)  # type: ignore[arg-type]
    return [a, b]


def test_identical_set_ups_have_no_differences(tmp_path: Path) -> None:
    runs = [read_run(p) for p in _runs(tmp_path, {})]
    facts = [RunFacts(r.path.name, r.header, r.episodes) for r in runs]
    assert run_differences(facts) == []
    result = compare(runs)
    assert result.differences == []
    assert result.runs == ["A", "B"]
    assert result.pairs[0].verdict.startswith("A beats B by 50 points")


@pytest.mark.parametrize(
    ("b_config", "b_header", "field", "a_value", "b_value"),
    [
        ({"simulator": "prompted:gpt-4o"}, {}, "simulator", "'scripted'", "'prompted:gpt-4o'"),
        ({"max_turns": 3}, {}, "max_turns", "10", "3"),
        ({"prompt_format": "chatbench-chat-v1"}, {}, "prompt_format", "none (scripted)",
         "chatbench-chat-v1"),
        ({"simulator_temperature": 0.5}, {}, "simulator_temperature", "1.0", "0.5"),
        ({"system_prompt": None}, {}, "system_prompt", "'You are a helpful AI assistant.'",
         "none"),
        ({"target_temperature": 0.0}, {}, "target_temperature", "0.7", "0.0"),
        ({"repeats": 3}, {}, "repeats", "2", "3"),
        ({"simulator_options": {"load_in_8bit": True}}, {}, "simulator_options", "none",
         "load_in_8bit=true"),
        ({"condition": "answer-first"}, {}, "condition", "direct-to-AI", "answer-first"),
        ({}, {"seed": 7}, "seeds", "run seed 0", "run seed 7"),
        ({}, {"schema_version": 1}, "schema_version", str(SCHEMA_VERSION), "1"),
    ],
)  # fmt: skip
def test_each_set_up_difference_is_named_with_both_values(
    tmp_path: Path,
    b_config: dict[str, object],
    b_header: dict[str, object],
    field: str,
    a_value: str,
    b_value: str,
) -> None:
    runs = [read_run(p) for p in _runs(tmp_path, b_config, **b_header)]
    with pytest.raises(IncomparableRunsError) as info:
        compare(runs)
    # A prompted simulator also brings its natural (chat) prompt format: two differences.
    d = next(x for x in info.value.differences if x.field == field)
    assert len(info.value.differences) == (2 if field == "simulator" else 1)
    assert (d.field, d.a, d.b, d.a_run, d.b_run) == (field, a_value, b_value, "A", "B")
    message = str(info.value)
    assert f"{field}: {a_value} (A) vs {b_value} (B)" in message
    assert f"--allow-different {field}" in message
    fields = tuple(x.field for x in info.value.differences)
    assert f"allow_different={fields!r}" in message
    # Allowed by name, the comparison runs and carries the difference for display.
    result = compare(runs, allow_different=[x.field for x in info.value.differences])
    assert field in [x.field for x in result.differences]
    assert result.pairs


def test_questions_differ_by_fingerprint_and_selection(tmp_path: Path) -> None:
    a = write_run(tmp_path / "A", outcomes("A", _spec(4, [1])), source="college_math")
    b = write_run(tmp_path / "B", outcomes("B", _spec(4, [1])), source="math", digest="e" * 32)
    with pytest.raises(IncomparableRunsError, match=r"questions: college_math, selection "):
        compare([read_run(a), read_run(b)])


def test_several_differences_all_named_and_all_allows_them(tmp_path: Path) -> None:
    runs = [read_run(p) for p in _runs(tmp_path, {"simulator_max_tokens": 64, "max_turns": 2})]
    with pytest.raises(IncomparableRunsError) as info:
        compare(runs)
    assert [d.field for d in info.value.differences] == ["simulator_max_tokens", "max_turns"]
    assert "--allow-different simulator_max_tokens --allow-different max_turns" in str(info.value)
    # Allowing one is not allowing both.
    with pytest.raises(IncomparableRunsError) as partly:
        compare(runs, allow_different=["simulator_max_tokens"])
    assert [d.field for d in partly.value.differences] == ["max_turns"]
    for allow in ("all", ["simulator_max_tokens,max_turns"], ["simulator_max_tokens", "max_turns"]):
        assert len(compare(runs, allow_different=allow).differences) == 2  # type: ignore[arg-type]


def test_a_served_simulator_s_seed_sending_and_context_are_compared(tmp_path: Path) -> None:
    served = {"simulator": "served:chatbench", "repeats": 2}
    a = write_run(tmp_path / "A", outcomes("A", _spec(4, [1])), **served)  # type: ignore[arg-type]
    b = write_run(
        tmp_path / "B", outcomes("B", _spec(4, [0])), **served,  # type: ignore[arg-type]
        simulator_options={"seed": False, "context_tokens": 1024},
    )  # fmt: skip
    same = write_run(
        tmp_path / "C", outcomes("C", _spec(4, [0])), **served,  # type: ignore[arg-type]
        simulator_options={"seed": True},  # what A recorded by default
    )  # fmt: skip
    with pytest.raises(IncomparableRunsError) as info:
        compare([read_run(a), read_run(b)])
    (d,) = info.value.differences
    assert (d.field, d.a) == ("simulator_options", "seed=true")
    assert d.b == "context_tokens=1024, seed=false"
    assert "--allow-different simulator_options" in str(info.value)
    allowed = compare([read_run(a), read_run(b)], allow_different="simulator_options")
    assert [x.field for x in allowed.differences] == ["simulator_options"]
    assert compare([read_run(a), read_run(same)]).differences == []


def test_unknown_field_to_allow_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown field\(s\) to allow: turns; valid: kind, "):
        check_comparable([], ["turns"])
    assert "all" not in COMPARED_FIELDS


def test_models_of_one_run_are_comparable_by_construction(tmp_path: Path) -> None:
    path = write_run(tmp_path / "A", outcomes("A", _spec(4, [1])) + outcomes("B", _spec(4, [0])))
    result = compare([read_run(path)])
    assert result.differences == []
    assert result.models == ["A", "B"]


def test_episode_lists_are_checked_on_their_records() -> None:
    a = outcomes("A", _spec(4, [1]))
    b = [ep.model_copy(update={"simulator": "prompted:x"}) for ep in outcomes("B", _spec(4, [1]))]
    with pytest.raises(IncomparableRunsError, match=r"simulator: 'scripted' \(run1\) vs "):
        compare([a, b])
    reseeded = [ep.model_copy(update={"seed": 99}) for ep in outcomes("B", _spec(4, [1]))]
    with pytest.raises(IncomparableRunsError) as info:
        compare([a, reseeded])
    assert "8 of 8 shared (question, repeat) pairs with other simulator seeds" in str(info.value)


def test_pairs_are_question_and_repeat_and_the_verdict_says_how_many(tmp_path: Path) -> None:
    # A: 3 repeats of q0..q9, B: 2 repeats (a shorter run): only repeats 0 and 1 are paired.
    a = outcomes("A", {f"q{i}": [1, 1, 0] for i in range(10)})
    b = outcomes("B", {f"q{i}": [0, 0] for i in range(10)})
    pa = write_run(tmp_path / "A", a, repeats=3)
    pb = write_run(tmp_path / "B", b, repeats=2)
    with pytest.raises(IncomparableRunsError, match=r"repeats: 3 \(A\) vs 2 \(B\)"):
        compare([read_run(pa), read_run(pb)])
    (pair,) = compare([read_run(pa), read_run(pb)], allow_different=["repeats"]).pairs
    assert (pair.paired_episodes, pair.unpaired_a, pair.unpaired_b) == (20, 10, 0)
    # Over the paired repeats A is always right: +100 points, not the +66.7 of all repeats.
    assert pair.diff.diff == pytest.approx(1.0)
    assert pair.verdict.endswith(
        "Paired on 20 (question, repeat) pairs; left out for want of a partner: "
        "10 episodes of A, 0 of B."
    )


def test_fully_paired_verdict_has_no_pairing_note() -> None:
    eps = outcomes("A", _spec(12, [1])) + outcomes("B", _spec(12, [0]))
    (pair,) = compare([eps]).pairs
    assert (pair.paired_episodes, pair.unpaired_a, pair.unpaired_b) == (24, 0, 0)
    assert "Paired on" not in pair.verdict
    errored = episode("B", "q0", repeat=0, termination=TerminationReason.TARGET_ERROR)
    (partly,) = compare([[*outcomes("A", _spec(12, [1])), *outcomes("B", _spec(12, [0]))[1:],
                          errored]]).pairs  # fmt: skip
    assert (partly.paired_episodes, partly.unpaired_a) == (23, 1)
