"""``chatsim sim check``: per-format perplexity of user turns, on the tiny model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatsim import DataError
from chatsim.protocol import CHATBENCH_TEXT_V1, Message, PromptFormat, Role
from chatsim.questions import Question
from chatsim.simulators._sim_check import (
    Conversation,
    bundled_question,
    load_conversations,
    score_formats,
)

QUESTION = Question(
    id="tiny-q",
    subject="elementary_mathematics",
    stem="What is 3 + 4?",
    options=("7", "6", "8", "5"),
    gold="A",
)

ALT = CHATBENCH_TEXT_V1.model_copy(
    update={
        "name": "plain-roles",
        "system_template": "{instruction}",
        "user_template": "User: {text} [END]",
        "assistant_template": "Assistant: {text}",
        "generation_prefix": "User:",
        "labels": ("User:", "Assistant:"),
    }
)


def _conversations() -> list[Conversation]:
    messages = (
        Message(Role.USER, "Can you help me with this sum?"),
        Message(Role.ASSISTANT, "Adding the numbers gives the result. The answer is A."),
        Message(Role.USER, "Answer: A"),
    )
    short = (Message(Role.USER, "What is the answer here?"),)
    return [Conversation(QUESTION, messages), Conversation(QUESTION, short)]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _plain_rows() -> list[dict[str, Any]]:
    rows = []
    for conv in _conversations():
        row: dict[str, Any] = QUESTION.model_dump()
        row["messages"] = [{"role": m.role.value, "content": m.content} for m in conv.messages]
        rows.append(row)
    return rows


def test_loads_question_and_messages_lines(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", _plain_rows())
    found = load_conversations(path)
    assert found == _conversations()
    assert load_conversations(path, limit=1) == _conversations()[:1]


def test_loads_run_records_resolving_question_ids(tmp_path: Path) -> None:
    turns = [
        {"role": "user", "text": "help?"},
        {"role": "assistant", "text": ""},  # a failed assistant turn: no text, left out
        {"role": "assistant", "text": "It is A."},
        {"role": "user", "text": "Answer: A"},
    ]
    path = _write_jsonl(tmp_path / "episodes.jsonl", [{"question_id": "tiny-q", "turns": turns}])
    (conv,) = load_conversations(path, questions=[QUESTION])
    assert conv.question == QUESTION
    assert [m.content for m in conv.messages] == ["help?", "It is A.", "Answer: A"]
    with pytest.raises(DataError, match="--questions"):
        load_conversations(path)


def test_bundled_question_ids_resolve() -> None:
    question = bundled_question("college_mathematics-test-0")
    assert question is not None and question.subject == "college_mathematics"
    assert bundled_question("college_mathematics-test-999999") is None
    assert bundled_question("somewhere-else-1") is None


def test_bad_lines_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_plain_rows()[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2"):
        load_conversations(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no conversations"):
        load_conversations(empty)


def test_ranks_formats_and_scores_only_user_tokens(tiny_engine: Any) -> None:
    result = score_formats(tiny_engine, _conversations(), [ALT, CHATBENCH_TEXT_V1], simulator="t")
    assert [s.format for s in result.scores] == ["chatbench-text-v1", "plain-roles"]
    assert result.best == "chatbench-text-v1"  # the tiny model was trained on it
    assert result.conversations == 2 and result.skipped_turns == 0
    best, other = result.scores
    assert best.turns == other.turns == 3
    assert math.isfinite(best.perplexity) and best.perplexity >= 1
    assert best.perplexity < other.perplexity
    assert math.isclose(best.perplexity, math.exp(best.mean_nll))
    tok = tiny_engine.tokenizer
    user_turns = ["Can you help me with this sum?", "Answer: A", "What is the answer here?"]
    expected = sum(len(tok(f" {t} [END]", add_special_tokens=False).input_ids) for t in user_turns)
    assert best.tokens == expected
    assert json.loads(json.dumps(result.to_json()))["best"] == "chatbench-text-v1"


def test_batching_does_not_change_the_scores(tiny_engine: Any) -> None:
    one = score_formats(tiny_engine, _conversations(), [CHATBENCH_TEXT_V1], batch_size=1)
    many = score_formats(tiny_engine, _conversations(), [CHATBENCH_TEXT_V1], batch_size=8)
    assert math.isclose(one.scores[0].mean_nll, many.scores[0].mean_nll, rel_tol=1e-4)


def test_base_model_scores_with_the_adapter_off(tiny_engine: Any) -> None:
    result = score_formats(tiny_engine, _conversations(), [CHATBENCH_TEXT_V1], with_base=True)
    (score,) = result.scores
    assert score.base_perplexity is not None and math.isfinite(score.base_perplexity)
    assert score.base_perplexity != score.perplexity


def test_cli_prints_a_table_and_json(tiny_model: Any, tmp_path: Path) -> None:
    from chatsim.cli._sim import sim_app

    path = _write_jsonl(tmp_path / "c.jsonl", _plain_rows())
    alt = tmp_path / "alt.json"
    alt.write_text(ALT.model_dump_json(), encoding="utf-8")
    spec = f"hf:{tiny_model.base}+{tiny_model.adapter}"
    runner = CliRunner()
    shown = runner.invoke(sim_app, ["check", str(path), "--simulator", spec, "--format", str(alt)])
    assert shown.exit_code == 0, shown.output
    assert "chatbench-text-v1" in shown.output and "plain-roles" in shown.output
    assert "best" in shown.output
    as_json = runner.invoke(sim_app, ["check", str(path), "--simulator", spec, "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["best"] == "chatbench-text-v1"
    assert {f["format"] for f in data["formats"]} == {"chatbench-text-v1"}


def test_cli_refuses_a_non_local_simulator(tmp_path: Path) -> None:
    from chatsim.cli._sim import sim_app

    path = _write_jsonl(tmp_path / "c.jsonl", _plain_rows())
    result = CliRunner().invoke(sim_app, ["check", str(path), "--simulator", "served:x"])
    assert result.exit_code == 2
    assert "hf:<base>+<adapter>" in result.output


def test_alt_format_is_a_valid_prompt_format() -> None:
    assert PromptFormat.model_validate(ALT.model_dump()).name == "plain-roles"
