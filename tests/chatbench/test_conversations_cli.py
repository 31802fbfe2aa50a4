"""``chatsim sim data --human`` and ``chatsim sim similarity --human`` on a synthetic release."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from chatbench_kit import Chat, chat_object, release_ids, write_chat_release
from typer.testing import CliRunner

from chatsim.cli._sim import sim_app
from chatsim.questions import Question


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    chatsim_ids, rids = release_ids(4, seed=5)
    chats = [
        Chat(rids[0], "w1", ("what is the first step here?", "and then?"), csv_letter="B"),
        Chat(rids[1], "w2", ("explain option c please",), csv_letter="C"),
        Chat(rids[2], "w3", ("can you solve this",), csv_letter="A", model="llama-3.1-8b"),
        Chat(rids[3], "w4", ("no letter recorded",)),
        Chat("college_mathematics-redux-9999", "w5", ("unmapped",), csv_letter="A"),
    ]
    folder = write_chat_release(tmp_path_factory.mktemp("human") / "release", chats)
    return folder, chatsim_ids


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sim_data_from_the_human_release(release: tuple[Path, list[str]], tmp_path: Path) -> None:
    folder, _ = release
    out = tmp_path / "data"
    args = ["data", "--human", str(folder), "--out", str(out), "--heldout", "0", "--json"]
    result = CliRunner().invoke(sim_app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # 3 + 2 + 2 examples (k user messages give k+1); w4 has no letter, w5 no bundled question.
    assert summary["examples"] == 7 and summary["conversations"] == 3
    assert summary["skipped_conversations"] == 1
    assert summary["human"]["unmapped_conversations"] == 1
    assert summary["human"]["no_answer"] == 1
    assert "ChatBench release" in json.loads((out / "data.json").read_text())["source"]
    rows = _lines(out / "train.jsonl")
    assert rows[2]["completion"] == " Answer: B [END]"  # the human's letter ends the conversation
    assert "1 skipped for 1 question ids" in result.stderr


def test_sim_data_filters_by_model(release: tuple[Path, list[str]], tmp_path: Path) -> None:
    folder, _ = release
    args = ["data", "--human", str(folder), "--out", str(tmp_path), "--model", "llama-3.1-8b",
            "--condition", "direct-to-AI", "--heldout", "0", "--json"]  # fmt: skip
    result = CliRunner().invoke(sim_app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["examples"] == 2 and summary["human"]["filtered_out"] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["CONV.jsonl"], "either CONVERSATIONS or --human"),
        (["--human", "missing-folder", "--no-such"], "No such option"),
        (["--human", "{missing}"], "no such folder"),
        (["--model", "gpt-4o", "CONV.jsonl"], "--model only apply with --human"),
        (["--human", "{release}", "--model", "gpt-5"], "no conversation of model gpt-5"),
        (["--human", "{release}", "--column", "nope=x"], "unknown column key"),
    ],
)
def test_sim_data_bad_input_exits_2(
    release: tuple[Path, list[str]], tmp_path: Path, extra: list[str], message: str
) -> None:
    folder, _ = release
    conv = tmp_path / "CONV.jsonl"
    conv.write_text("", encoding="utf-8")
    fill = {"{release}": str(folder), "{missing}": str(tmp_path / "nope"), "CONV.jsonl": str(conv)}
    args = ["data", "--out", str(tmp_path / "out"), *(fill.get(a, a) for a in extra)]
    if extra == ["CONV.jsonl"]:
        args += ["--human", str(folder)]
    result = CliRunner().invoke(sim_app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_sim_data_names_a_missing_field(tmp_path: Path) -> None:
    _, rids = release_ids(4, seed=5)
    chat = Chat(rids[0], "w1", ("x",), csv_letter="A")
    row = chat_object(chat)
    del row["messages"]
    folder = write_chat_release(tmp_path / "bad", [chat], objects=[row])
    result = CliRunner().invoke(sim_app, ["data", "--human", str(folder), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "lacks the field(s) messages" in result.output


def _simulated(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """The ``{question fields, messages, answer}`` JSONL of simulated conversations."""
    from chatsim.simulators._sim_check import bundled_question

    rows = []
    for qid, opener in pairs:
        question = bundled_question(qid)
        assert isinstance(question, Question)
        rows.append({**question.model_dump(), "answer": "A",
                     "messages": [{"role": "user", "content": opener},
                                  {"role": "assistant", "content": "ok"}]})  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_similarity_against_the_human_first_prompts(
    release: tuple[Path, list[str]], tmp_path: Path
) -> None:
    pytest.importorskip("sacrebleu")
    pytest.importorskip("rouge_score")
    folder, ids = release
    sim = _simulated(tmp_path / "sim.jsonl", [(ids[0], "what is the first step here?"),
                                              (ids[1], "totally different words")])  # fmt: skip
    args = ["similarity", str(sim), "--human", str(folder), "--json"]
    result = CliRunner().invoke(sim_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_id = {q["question_id"]: q for q in data["per_question"]}
    assert math.isclose(by_id[ids[0]]["bleu"], 100.0) and by_id[ids[0]]["rouge1"] == 1.0
    assert by_id[ids[1]]["rouge1"] == 0.0
    # The real side is every mapped conversation, answered or not (w4 has no letter).
    assert data["questions_scored"] == 2 and data["only_real"] == 2
    assert data["human"]["kept"] == 4
    both = CliRunner().invoke(sim_app, [*args, "--real", str(sim)])
    assert both.exit_code == 2 and "either --real or --human" in both.output
