"""``chatsim sim data``: conversations → k+1 examples per conversation, split by question."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_kit import sum_conversations, write_conversations
from typer.testing import CliRunner

from chatsim import DataError
from chatsim.protocol import (
    CHATBENCH_CHAT_V1,
    CHATBENCH_TEXT_V1,
    Message,
    Role,
    SimulatorStep,
    render_chat,
    render_text,
)
from chatsim.training import (
    UserConversation,
    examples_of,
    from_jsonl,
    read_split,
    render_example,
    split_questions,
    write_data,
)

CONV = sum_conversations(2)[1]  # two user messages


def test_k_user_messages_give_k_plus_one_examples_with_exact_targets() -> None:
    examples = examples_of(CONV)
    assert CONV.user_messages == 2 and len(examples) == 3
    assert [e.target for e in examples] == [
        CONV.messages[0].content,
        "Could you double check?",
        "Answer: A",
    ]
    assert [e.step for e in examples] == [SimulatorStep.FIRST, SimulatorStep.NEXT,
                                          SimulatorStep.NEXT]  # fmt: skip
    assert [len(e.history) for e in examples] == [0, 2, 4]


def test_text_lines_are_the_generation_prompt_plus_the_turn_and_stop() -> None:
    last = examples_of(CONV)[-1]
    line = render_example(CHATBENCH_TEXT_V1, last)
    assert line["prompt"] == render_text(CHATBENCH_TEXT_V1, CONV.question, CONV.messages,
                                         SimulatorStep.NEXT)  # fmt: skip
    assert line["prompt"].endswith("[ASSISTANT] Yes, A.\n\n[USER]")
    assert line["completion"] == " Answer: A [END]"
    assert line["question_id"] == "q1" and line["step"] == "next"


def test_chat_lines_end_with_the_users_turn_as_the_assistant_message() -> None:
    first = examples_of(CONV)[0]
    line = render_example(CHATBENCH_CHAT_V1, first)
    assert set(line) == {"messages"}
    expected = render_chat(CHATBENCH_CHAT_V1, CONV.question, (), SimulatorStep.FIRST)
    assert line["messages"][:-1] == [{"role": m.role.value, "content": m.content}
                                     for m in expected]  # fmt: skip
    assert line["messages"][-1] == {"role": "assistant", "content": CONV.messages[0].content}


def test_the_answer_after_max_turns_is_the_forced_step() -> None:
    (*_, last) = examples_of(CONV, max_turns=2)
    assert last.step is SimulatorStep.FORCE_ANSWER and last.target == "Answer: A"


def test_a_trailing_answer_statement_becomes_the_chosen_letter() -> None:
    messages = [*CONV.messages, Message(Role.USER, "**Answer: c**")]
    conv = UserConversation.of(CONV.question, messages)
    assert conv.answer == "C" and conv.messages == CONV.messages
    with pytest.raises(DataError, match="A-D"):
        UserConversation.of(CONV.question, CONV.messages, "E")


def test_conversations_without_an_answer_or_a_user_message_give_nothing() -> None:
    assert examples_of(UserConversation.of(CONV.question, CONV.messages)) == []
    assert examples_of(UserConversation.of(CONV.question, (), "A")) == []


def test_run_records_drop_the_answer_turn_and_use_the_scored_letter(tmp_path: Path) -> None:
    turns = [
        {"role": "user", "text": "help?"},
        {"role": "assistant", "text": ""},  # a failed attempt, recorded without text
        {"role": "assistant", "text": "It is B."},
        {"role": "user", "text": "I'll go with B"},  # fallback-parsed answer turn
    ]
    row = {"question_id": CONV.question.id, "turns": turns, "final_answer": "B"}
    path = tmp_path / "episodes.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (conv,) = from_jsonl(path, questions=[CONV.question])
    assert conv.answer == "B"
    assert [m.content for m in conv.messages] == ["help?", "It is B."]
    assert [e.target for e in examples_of(conv)] == ["help?", "Answer: B"]


def test_split_is_seeded_disjoint_and_independent_of_order() -> None:
    ids = [f"q{i}" for i in range(10)]
    one = split_questions(ids, heldout=0.3, seed=7)
    assert one == split_questions(reversed(ids), heldout=0.3, seed=7)
    assert len(one.heldout) == 3 and len(one.train) == 7
    assert set(one.train) | set(one.heldout) == set(ids) and not set(one.train) & set(one.heldout)
    assert split_questions(ids, heldout=0.3, seed=8) != one
    assert len(split_questions(["a", "b"], heldout=0.01).heldout) == 1  # at least one each side


def test_write_data_writes_split_examples_and_summary(tmp_path: Path) -> None:
    conversations = [*sum_conversations(10), UserConversation.of(CONV.question, CONV.messages)]
    summary = write_data(conversations, tmp_path / "d", CHATBENCH_TEXT_V1, heldout=0.2, seed=3)
    split = read_split(tmp_path / "d" / "split.json")
    raw = json.loads((tmp_path / "d" / "split.json").read_text())
    assert set(raw) == {"train", "heldout", "seed"} and raw["seed"] == 3
    assert len(split.heldout) == 2 and len(split.train) == 8
    train = [json.loads(x) for x in (tmp_path / "d" / "train.jsonl").read_text().splitlines()]
    held = [json.loads(x) for x in (tmp_path / "d" / "heldout.jsonl").read_text().splitlines()]
    assert {r["question_id"] for r in train} == set(split.train)
    assert {r["question_id"] for r in held} == set(split.heldout)
    # 5 conversations with one user message (2 examples), 5 with two (3 examples).
    assert summary.examples == len(train) + len(held) == 25
    assert summary.skipped_conversations == 1 and summary.questions == 10
    manifest = json.loads((tmp_path / "d" / "data.json").read_text())
    assert manifest["format"] == "chatbench-text-v1" and manifest["examples"] == 25


def test_a_given_split_must_cover_every_question(tmp_path: Path) -> None:
    conversations = sum_conversations(4)
    split = split_questions(["q0", "q1"], heldout=0.5)
    with pytest.raises(DataError, match="neither side"):
        write_data(conversations, tmp_path / "d", CHATBENCH_TEXT_V1, split=split)


def test_cli_writes_data_and_prints_a_summary(tmp_path: Path) -> None:
    from chatsim.cli._sim import sim_app

    source = write_conversations(tmp_path / "c.jsonl", sum_conversations(6))
    runner = CliRunner()
    out = tmp_path / "data"
    shown = runner.invoke(sim_app, ["data", str(source), "--out", str(out), "--seed", "1"])
    assert shown.exit_code == 0, shown.output
    assert "15 examples" in shown.output and "6 questions" in shown.output
    again = runner.invoke(sim_app, ["data", str(source), "--out", str(tmp_path / "chat"),
                                    "--format", "chatbench-chat-v1", "--split",
                                    str(out / "split.json"), "--json"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["kind"] == "chat"
    assert read_split(tmp_path / "chat" / "split.json") == read_split(out / "split.json")
    bad = runner.invoke(sim_app, ["data", str(tmp_path / "nope.jsonl"), "--out", str(out)])
    assert bad.exit_code != 0 and "nope.jsonl" in bad.output
