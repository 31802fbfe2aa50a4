"""Study conditions in the summary: grouped apart, answer-first's switches hand-counted,
and records written before schema 4 read as direct-to-AI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from records_kit import episode
from rich.console import Console
from run_kit import write_run

from chatsim.metrics import answer_first_summary, render_summary, summarize
from chatsim.metrics._accuracy import IntervalSpec
from chatsim.protocol import TerminationReason
from chatsim.recording import EpisodeRecord, open_for_resume, read_run
from chatsim.report import summarize_run

SPEC = IntervalSpec(resamples=200)


def _first(qid: str, before: bool | None, after: bool, **kw: object) -> EpisodeRecord:
    ep = episode("m", qid, after, **kw)  # type: ignore[arg-type]
    initial = None if before is None else ("A" if before else "C")
    return ep.model_copy(
        update={"condition": "answer-first", "initial_answer": initial,
                "initial_answer_method": None if before is None else "explicit",
                "initial_correct": before}
    )  # fmt: skip


def test_answer_first_counts_each_kind_of_switch() -> None:
    episodes = [
        _first("q1", True, True),  # stayed right
        _first("q1", True, False, repeat=1),  # right -> wrong
        _first("q2", False, True),  # wrong -> right
        _first("q2", False, True, repeat=1),  # wrong -> right
        _first("q3", False, False),  # stayed wrong
        _first("q4", True, False, termination=TerminationReason.TARGET_ERROR),  # not scored
        _first("q5", None, False, termination=TerminationReason.SIMULATOR_ERROR),  # never alone
    ]
    af = answer_first_summary(episodes, SPEC)
    assert af.paired == 5 and af.questions == 3
    assert (af.stayed_right, af.right_to_wrong, af.wrong_to_right, af.stayed_wrong) == (1, 1, 2, 1)
    assert af.right_to_wrong_rate == pytest.approx(1 / 2)
    assert af.wrong_to_right_rate == pytest.approx(2 / 3)
    # Means over questions: alone q1 1, q2 0, q3 0; after q1 1/2, q2 1, q3 0.
    assert af.initial_accuracy == pytest.approx(1 / 3)
    assert af.final_accuracy == pytest.approx(1 / 2)
    # Scored as incorrect, the target error pairs too (right alone, wrong after).
    scored = answer_first_summary(episodes, IntervalSpec(resamples=200, errors_as_incorrect=True))
    assert scored.paired == 6 and scored.right_to_wrong == 2


def test_no_answer_alone_gives_no_rates() -> None:
    af = answer_first_summary([], SPEC)
    assert af.paired == 0 and af.initial_accuracy is None and af.right_to_wrong_rate is None


def test_episodes_of_several_conditions_are_reported_apart() -> None:
    alone = [
        episode("m", q, c).model_copy(update={"condition": "user-alone"})
        for q, c in (("q1", True), ("q2", False))
    ]
    direct = [episode("m", q, True) for q in ("q1", "q2")]
    summary = summarize([*direct, *alone, _first("q1", False, True)], resamples=200)
    assert list(summary.conditions) == ["direct-to-AI", "answer-first", "user-alone"]
    assert summary.conditions["user-alone"].accuracy == pytest.approx(0.5)
    assert summary.conditions["direct-to-AI"].accuracy == pytest.approx(1.0)
    assert summary.conditions["direct-to-AI"].answer_first is None
    af = summary.conditions["answer-first"].answer_first
    assert af is not None and af.wrong_to_right == 1
    assert summary.conditions["answer-first"].models["m"].answer_first == af
    assert any("several study conditions" in note for note in summary.notes)
    console = Console(record=True, width=200)
    render_summary(summary, console)
    text = console.export_text()
    assert "By study condition" in text and "user alone" in text and "1 (100%)" in text


def test_records_of_schema_3_read_as_direct_to_ai(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "old", [episode("m", "q1", True), episode("m", "q2", False)])
    header = json.loads((run_dir / "header.json").read_text())
    header["schema_version"] = 3
    header["config"].pop("condition")
    (run_dir / "header.json").write_text(json.dumps(header))
    lines = (run_dir / "episodes.jsonl").read_text().splitlines()
    old = []
    for line in lines:  # as schema 3 wrote them: no condition, no answer alone
        record = json.loads(line)
        for key in ("condition", "initial_turn", "initial_answer", "initial_answer_method",
                    "initial_correct"):  # fmt: skip
            record.pop(key)
        old.append({**record, "schema_version": 3})
    (run_dir / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    data = read_run(run_dir)
    assert data.header.schema_version == 3 and data.header.config.condition == "direct-to-AI"  # type: ignore[union-attr]
    assert [ep.condition for ep in data.episodes] == ["direct-to-AI"] * 2
    assert all(ep.initial_correct is None for ep in data.episodes)
    summary = summarize_run(run_dir)
    assert summary.conditions == {} and summary.models["m"].episode_accuracy == 0.5
    assert open_for_resume(run_dir).header.schema_version == 4  # raised on resume
