"""Answering alone (``SimulatorStep.ALONE``): the instruction each format renders, its chat
cue, how its turn is read, and format files that predate it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatsim import ConfigError
from chatsim.protocol import (
    CHATBENCH_CHAT_V1,
    CHATBENCH_TEXT_V1,
    Role,
    SimulatorStep,
    TerminationReason,
    interpret_user_turn,
    load_format,
    render_chat,
    render_text,
    termination_for,
)
from chatsim.questions import Question

GOLDEN = Path(__file__).parent / "golden"
QUESTION = Question(
    id="college_mathematics-test-7",
    subject="college_mathematics",
    stem="  What is the value of $\\int_0^1 2x\\,dx$ {in closed form}?  ",
    options=("0", "1", "2", "1/2"),
    gold="B",
)


def test_text_golden_alone() -> None:
    actual = render_text(CHATBENCH_TEXT_V1, QUESTION, (), SimulatorStep.ALONE)
    assert actual == (GOLDEN / "chatbench-text-v1.alone.txt").read_text(encoding="utf-8")
    assert actual.startswith("[SYSTEM] ") and actual.endswith("\n\n[USER]")
    assert "assistant" not in actual.split("without")[0]  # no assistant to talk to
    assert '"Answer: X"' in actual and QUESTION.render() in actual


def test_chat_golden_alone_uses_its_own_cue() -> None:
    messages = render_chat(CHATBENCH_CHAT_V1, QUESTION, (), SimulatorStep.ALONE)
    actual = json.dumps(
        [{"role": str(m.role), "content": m.content} for m in messages],
        indent=2,
        ensure_ascii=False,
    )
    assert actual + "\n" == (GOLDEN / "chatbench-chat-v1.alone.json").read_text(encoding="utf-8")
    assert [m.role for m in messages] == [Role.SYSTEM, Role.USER]
    assert messages[1].content == CHATBENCH_CHAT_V1.alone_start != CHATBENCH_CHAT_V1.chat_start


def test_the_alone_instruction_differs_from_every_conversation_step() -> None:
    alone = render_text(CHATBENCH_TEXT_V1, QUESTION, (), SimulatorStep.ALONE)
    others = {render_text(CHATBENCH_TEXT_V1, QUESTION, (), s) for s in SimulatorStep} - {alone}
    assert len(others) == len(SimulatorStep) - 1


@pytest.mark.parametrize(
    ("text", "letter", "method"),
    [
        ("Answer: C", "C", "explicit"),
        ("I'll go with B", "B", "fallback"),  # every alone turn is final: the fallback reads it
        ("no idea, sorry", None, "none"),
        ("", None, "none"),
    ],
)
def test_an_alone_turn_is_always_final(text: str, letter: str | None, method: str) -> None:
    decision = interpret_user_turn(text, SimulatorStep.ALONE)
    assert decision.message is None and decision.final is not None
    assert (decision.final.letter, decision.final.method) == (letter, method)
    expected = TerminationReason.ANSWERED if letter else TerminationReason.INVALID_ANSWER
    assert termination_for(decision.final, SimulatorStep.ALONE) is expected


def test_a_format_file_without_the_alone_instruction_gets_the_default(tmp_path: Path) -> None:
    fields = CHATBENCH_TEXT_V1.model_dump(exclude={"alone_instruction", "alone_start"})
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**fields, "name": "mine"}))
    fmt = load_format(path)
    assert fmt.alone_instruction == CHATBENCH_TEXT_V1.alone_instruction
    assert render_text(fmt, QUESTION, (), SimulatorStep.ALONE) == render_text(
        CHATBENCH_TEXT_V1, QUESTION, (), SimulatorStep.ALONE
    )


def test_an_alone_instruction_without_the_question_is_refused(tmp_path: Path) -> None:
    fields = CHATBENCH_TEXT_V1.model_dump()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**fields, "alone_instruction": "Answer alone."}))
    with pytest.raises(ConfigError, match=r"alone_instruction \(needs \{question\}\)"):
        load_format(path)
