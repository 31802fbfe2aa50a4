"""The release's conversations.json (in the assumed shape) as training input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from chatbench_kit import Chat, chat_object, release_ids, write_chat_release

from chatsim._exceptions import DataError
from chatsim.chatbench import DEFAULT_COLUMNS, load_human_conversations, load_release
from chatsim.protocol import Role
from chatsim.training import examples_of


@pytest.fixture(scope="module")
def ids() -> tuple[list[str], list[str]]:
    return release_ids(4)


def _chats(rids: list[str]) -> list[Chat]:
    return [
        Chat(rids[0], "w1", ("hi, what is this?", "are you sure?", "ok thanks"), csv_letter="B"),
        Chat(rids[1], "w2", ("help me",), answer="C"),  # no answers row: the field's letter
        Chat(rids[2], "w3", ("first", "Answer: A")),  # the letter is the last message
        Chat(rids[3], "w4", ("no answer anywhere",)),
        Chat(rids[0], "w5", ("llama user",), csv_letter="D", model="llama-3.1-8b"),
    ]


def test_k_user_messages_give_k_plus_1_examples_with_the_chosen_letter_last(
    tmp_path: Path, ids: tuple[list[str], list[str]]
) -> None:
    chatsim_ids, rids = ids
    chats = _chats(rids)
    rows = [chat_object(c) for c in chats]
    rows[2]["messages"].pop()  # type: ignore[attr-defined]  # "Answer: A" ends the chat
    found = load_human_conversations(write_chat_release(tmp_path, chats, objects=rows))
    first = found.conversations[0]
    assert (first.worker_id, first.model, first.condition) == ("w1", "gpt-4o", "direct-to-AI")
    conv = first.conversation
    assert conv.question.id == chatsim_ids[0] and first.release_id == rids[0]
    assert [m.role for m in conv.messages] == [Role.USER, Role.ASSISTANT] * 3  # system dropped
    assert [m.content for m in conv.messages[::2]] == ["hi, what is this?", "are you sure?",
                                                       "ok thanks"]  # fmt: skip
    examples = examples_of(conv)
    assert len(examples) == 4
    assert [e.target for e in examples] == ["hi, what is this?", "are you sure?", "ok thanks",
                                            "Answer: B"]  # fmt: skip
    # The user-AI row's letter, not the user-alone one (D).
    assert [c.conversation.answer for c in found.conversations] == ["B", "C", "A", None, "D"]
    assert found.no_answer == 1 and found.read == 5 and found.unmapped == {}
    assert found.conversations[2].conversation.user_messages == 1  # "Answer: A" is no message


def test_answers_row_wins_over_the_conversation_and_bad_letters_are_counted(
    tmp_path: Path, ids: tuple[list[str], list[str]]
) -> None:
    _, rids = ids
    chats = [Chat(rids[0], "w1", ("x",), csv_letter="b", answer="C"),
             Chat(rids[1], "w2", ("y",), csv_letter="7"),
             Chat(rids[2], "w3", ("z",), answer=2)]  # fmt: skip
    found = load_human_conversations(write_chat_release(tmp_path, chats))
    assert [c.conversation.answer for c in found.conversations] == ["B", None, None]
    assert found.unreadable_answers == 2 and found.no_answer == 2


def test_unmapped_question_ids_are_counted_not_dropped_silently(
    tmp_path: Path, ids: tuple[list[str], list[str]]
) -> None:
    _, rids = ids
    chats = [Chat(rids[0], "w1", ("x",), csv_letter="A"),
             Chat("college_mathematics-redux-9999", "w2", ("y",), csv_letter="A"),
             Chat("college_mathematics-redux-9999", "w3", ("y",), csv_letter="A"),
             Chat("astronomy-test-1", "w4", ("z",), csv_letter="A")]  # fmt: skip
    found = load_human_conversations(write_chat_release(tmp_path, chats))
    assert len(found.conversations) == 1 and found.read == 4
    assert found.unmapped == {"college_mathematics-redux-9999": 2, "astronomy-test-1": 1}
    report = found.to_json()
    assert report["unmapped_conversations"] == 3
    assert "not bundled" in report["unmapped_ids"]["astronomy-test-1"]
    assert "3 skipped for 2 question ids" in found.line()


def test_missing_fields_are_named(tmp_path: Path, ids: tuple[list[str], list[str]]) -> None:
    _, rids = ids
    chat = Chat(rids[0], "w1", ("x",), csv_letter="A")
    row = chat_object(chat)
    del row["messages"], row["worker_id"]
    with pytest.raises(DataError, match=r"lacks the field\(s\) worker_id, messages.*--column"):
        load_human_conversations(write_chat_release(tmp_path, [chat], objects=[row]))


def test_unknown_roles_and_other_names_are_adjustable(
    tmp_path: Path, ids: tuple[list[str], list[str]]
) -> None:
    _, rids = ids
    turns = [{"from": "human", "text": "hello"}, {"from": "bot", "text": "hi"}]
    row = {"worker_id": "w1", "model": "gpt-4o", "condition": "direct-to-AI",
           "question_id": rids[0], "chat": turns, "answer": "A"}  # fmt: skip
    chat = Chat(rids[0], "w1", ("x",), csv_letter="A")
    folder = write_chat_release(tmp_path, [chat], objects={"conv-1": row})
    with pytest.raises(DataError, match=r"lacks the field.*messages"):
        load_human_conversations(folder)
    names = {"conversation_messages": "chat", "message_role": "from", "message_text": "text"}
    with pytest.raises(DataError, match=r"'human'.*user_role"):
        load_human_conversations(folder, columns=replace(DEFAULT_COLUMNS, **names))
    columns = replace(DEFAULT_COLUMNS, **names, user_role="human", assistant_role="bot")
    (conv,) = load_human_conversations(folder, columns=columns).user_conversations()
    assert [m.content for m in conv.messages] == ["hello", "hi"] and conv.answer == "A"
    assert "conv-1" in conv.source


def test_model_and_condition_filters(tmp_path: Path, ids: tuple[list[str], list[str]]) -> None:
    _, rids = ids
    folder = write_chat_release(tmp_path, _chats(rids))
    llama = load_human_conversations(folder, model="llama-3.1-8b")
    assert [c.worker_id for c in llama.conversations] == ["w5"] and llama.filtered_out == 4
    with pytest.raises(DataError, match=r"gpt-4o / direct-to-AI, llama-3.1-8b / direct-to-AI"):
        load_human_conversations(folder, condition="answer-first")


def test_model_and_condition_come_from_the_answers_rows_when_absent(
    tmp_path: Path, ids: tuple[list[str], list[str]]
) -> None:
    _, rids = ids
    row = chat_object(Chat(rids[0], "w1", ("x",)))
    del row["model"], row["condition"]
    chat = Chat(rids[1], "w1", ("y",), csv_letter="A", model="llama-3.1-8b",
                condition="answer-first")  # fmt: skip
    folder = write_chat_release(tmp_path, [chat], objects=[row, chat_object(chat)])
    first = load_human_conversations(folder).conversations[0]
    assert (first.model, first.condition) == ("llama-3.1-8b", "answer-first")


def test_no_conversations_file_and_bad_json(
    tmp_path: Path, ids: tuple[list[str], list[str]]
) -> None:
    _, rids = ids
    folder = write_chat_release(tmp_path, [Chat(rids[0], "w1", ("x",), csv_letter="A")])
    (folder / "full_study" / "conversations.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="is not JSON"):
        load_human_conversations(folder)
    (folder / "full_study" / "conversations.json").unlink()
    assert load_release(folder).conversations_file is None
    with pytest.raises(DataError, match=r"none of full_study/conversations.json"):
        load_human_conversations(folder)
    (folder / "full_study" / "conversations.json").write_text(json.dumps(42), encoding="utf-8")
    with pytest.raises(DataError, match="expected a list of conversations"):
        load_human_conversations(folder)
