"""Prompt formats: golden renders, registry, user template files, kind checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chatsim import ConfigError, UnknownNameError
from chatsim.protocol import (
    CHATBENCH_CHAT_V1,
    CHATBENCH_TEXT_V1,
    STOP,
    Message,
    PromptFormat,
    Role,
    SimulatorStep,
    get_format,
    list_formats,
    load_format,
    render_chat,
    render_text,
)
from chatsim.questions import Question

GOLDEN = Path(__file__).parent / "golden"
#: Set CHATSIM_UPDATE_GOLDEN=1 to rewrite the golden files after an intended format change
#: (and bump the format's version).
UPDATE = os.environ.get("CHATSIM_UPDATE_GOLDEN") == "1"

QUESTION = Question(
    id="college_mathematics-test-7",
    subject="college_mathematics",
    stem="  What is the value of $\\int_0^1 2x\\,dx$ {in closed form}?  ",
    options=("0", "1", "2", "1/2"),
    gold="B",
)
TWO_EXCHANGES = (
    Message(Role.USER, "how do i integrate 2x from 0 to 1?"),
    Message(Role.ASSISTANT, "The antiderivative of 2x is x^2.\n\nEvaluate it: 1^2 - 0^2 = 1."),
    Message(Role.USER, "  so it's just 1? "),
    Message(Role.ASSISTANT, "Yes, the integral equals **1**."),
)
CASES = {
    "first": ((), SimulatorStep.FIRST),
    "after_two_exchanges": (TWO_EXCHANGES, SimulatorStep.NEXT),
    "force_answer": (TWO_EXCHANGES, SimulatorStep.FORCE_ANSWER),
}


def _check_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8", newline="")
    assert actual == path.read_text(encoding="utf-8"), f"render differs from {path}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_golden(case: str) -> None:
    history, step = CASES[case]
    actual = render_text(CHATBENCH_TEXT_V1, QUESTION, history, step)
    _check_golden(GOLDEN / f"chatbench-text-v1.{case}.txt", actual)


@pytest.mark.parametrize("case", sorted(CASES))
def test_chat_golden(case: str) -> None:
    history, step = CASES[case]
    messages = render_chat(CHATBENCH_CHAT_V1, QUESTION, history, step)
    actual = json.dumps(
        [{"role": str(m.role), "content": m.content} for m in messages],
        indent=2,
        ensure_ascii=False,
    )
    _check_golden(GOLDEN / f"chatbench-chat-v1.{case}.json", actual + "\n")


def test_text_layout_essentials() -> None:
    text = render_text(CHATBENCH_TEXT_V1, QUESTION, TWO_EXCHANGES, SimulatorStep.NEXT)
    assert text.startswith("[SYSTEM] ")
    assert text.endswith("\n\n[USER]")
    assert (
        "[USER] how do i integrate 2x from 0 to 1? [END]\n\n[ASSISTANT] The antiderivative" in text
    )
    assert "{in closed form}" in text  # braces in the question are not template fields
    assert QUESTION.render() in text


def test_first_text_prompt_has_no_turns() -> None:
    text = render_text(CHATBENCH_TEXT_V1, QUESTION, (), SimulatorStep.FIRST)
    assert text.count("[USER]") == 1
    assert "[ASSISTANT]" not in text


def test_steps_use_different_instructions() -> None:
    renders = {
        step: render_text(CHATBENCH_TEXT_V1, QUESTION, TWO_EXCHANGES, step)
        for step in SimulatorStep
    }
    assert len(set(renders.values())) == len(SimulatorStep)
    assert '"Answer: X"' in renders[SimulatorStep.NEXT]
    assert '"Answer: X"' in renders[SimulatorStep.FORCE_ANSWER]


def test_chat_roles_are_swapped() -> None:
    messages = render_chat(CHATBENCH_CHAT_V1, QUESTION, TWO_EXCHANGES, SimulatorStep.NEXT)
    assert [m.role for m in messages] == [
        Role.SYSTEM,
        Role.ASSISTANT,
        Role.USER,
        Role.ASSISTANT,
        Role.USER,
    ]
    assert QUESTION.render() in messages[0].content
    assert messages[-1].content == "Yes, the integral equals **1**."


def test_chat_first_turn_has_a_user_cue() -> None:
    messages = render_chat(CHATBENCH_CHAT_V1, QUESTION, (), SimulatorStep.FIRST)
    assert [m.role for m in messages] == [Role.SYSTEM, Role.USER]
    assert messages[1].content == CHATBENCH_CHAT_V1.chat_start


def test_kind_mismatch_raises() -> None:
    with pytest.raises(ConfigError, match="chat format"):
        render_text(CHATBENCH_CHAT_V1, QUESTION, (), SimulatorStep.FIRST)
    with pytest.raises(ConfigError, match="text format"):
        render_chat(CHATBENCH_TEXT_V1, QUESTION, (), SimulatorStep.FIRST)


def test_system_message_in_history_raises() -> None:
    history = (Message(Role.SYSTEM, "be nice"),)
    with pytest.raises(ConfigError, match="user and assistant"):
        render_text(CHATBENCH_TEXT_V1, QUESTION, history, SimulatorStep.NEXT)


def test_registry() -> None:
    assert list_formats() == ("chatbench-chat-v1", "chatbench-text-v1")
    assert get_format("chatbench-text-v1") is CHATBENCH_TEXT_V1
    assert get_format("chatbench-chat-v1").kind == "chat"
    assert STOP == "[END]" == CHATBENCH_TEXT_V1.stop


def test_unknown_format_lists_names() -> None:
    with pytest.raises(UnknownNameError, match="chatbench-chat-v1, chatbench-text-v1"):
        get_format("nope")


def test_formats_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        CHATBENCH_TEXT_V1.name = "x"  # type: ignore[misc]


def _fields(**over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "mine-v1",
        "kind": "text",
        "first_instruction": "Ask about: {question}",
        "next_instruction": "Continue: {question}",
        "force_instruction": "Answer now: {question}",
    }
    data.update(over)
    return data


def test_load_json_format(tmp_path: Path) -> None:
    path = tmp_path / "fmt.json"
    path.write_text(json.dumps(_fields(user_template="<u>{text}</u>", separator="\n")))
    fmt = load_format(path)
    history = (Message(Role.USER, "hi"), Message(Role.ASSISTANT, "hello"))
    text = render_text(fmt, QUESTION, history, SimulatorStep.NEXT)
    assert text == f"[SYSTEM] Continue: {QUESTION.render()}\n<u>hi</u>\n[ASSISTANT] hello\n[USER]"


def test_load_toml_format(tmp_path: Path) -> None:
    path = tmp_path / "fmt.toml"
    path.write_text(
        'name = "mine-chat"\nversion = 3\nkind = "chat"\n'
        'first_instruction = "F {question}"\nnext_instruction = "N {question}"\n'
        'force_instruction = "X {question}"\nchat_start = ""\n'
    )
    fmt = load_format(path)
    assert (fmt.name, fmt.version, fmt.kind) == ("mine-chat", 3, "chat")
    messages = render_chat(fmt, QUESTION, (), SimulatorStep.FORCE_ANSWER)
    assert messages == (Message(Role.SYSTEM, f"X {QUESTION.render()}"),)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (json.dumps(_fields(kind="audio")), "kind"),
        (json.dumps(_fields(first_instruction="no placeholder")), r"first_instruction \(needs"),
        (json.dumps(_fields(user_template="[USER]")), r"user_template \(needs \{text\}"),
        (json.dumps(_fields(colour="red")), "colour"),
        (json.dumps({"name": "x"}), "kind"),
        (json.dumps(_fields(version=0)), "version"),
        ("[1, 2]", "object/table"),
        ("{not json", "not valid json"),
    ],
)
def test_load_format_errors(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match) as info:
        load_format(path)
    assert str(path) in str(info.value)


def test_load_format_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = ")
    with pytest.raises(ConfigError, match="not valid toml"):
        load_format(path)


def test_load_format_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_format(tmp_path / "absent.json")


def test_load_format_wrong_suffix(tmp_path: Path) -> None:
    path = tmp_path / "fmt.yaml"
    path.write_text("name: x")
    with pytest.raises(ConfigError, match=r"\.json or \.toml"):
        load_format(path)


def test_chat_format_need_not_have_text_templates() -> None:
    fmt = PromptFormat.model_validate(_fields(kind="chat", user_template="no field"))
    assert fmt.kind == "chat"
