"""User question files (CSV, JSONL): happy paths and every error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatsim import DataError, UnknownNameError
from chatsim.questions import Question, load_question_file, load_questions


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, *rows: object) -> Path:
    return _write(path, "\n".join(json.dumps(r) for r in rows) + "\n")


def test_csv_with_letter_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "quiz.csv",
        'question,A,B,C,D,answer\n"What is 2+2, really?",1,2,3,4,d\n'
        "Sky colour?,red,blue,green,grey,B\n",
    )
    questions = load_question_file(path)
    assert questions[0] == Question(
        id="quiz-0",
        subject="custom",
        stem="What is 2+2, really?",
        options=("1", "2", "3", "4"),
        gold="D",
        source=str(path),
    )
    assert [q.id for q in questions] == ["quiz-0", "quiz-1"]


def test_csv_with_option_columns_subject_id_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(
        "\ufeffID,Stem,Option_A,Option_B,Option_C,Option_D,Gold,Subject\n"
        "q1,Pick one,w,x,y,z,C,logic\n".encode()
    )
    (question,) = load_question_file(path)
    assert (question.id, question.subject, question.stem, question.gold) == (
        "q1",
        "logic",
        "Pick one",
        "C",
    )


def test_jsonl_with_options_list(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "q.jsonl",
        {"question": "Q1", "options": ["a", "b", "c", "d"], "answer": "A", "id": "one"},
        {"stem": "Q2", "options": ["a", "b", "c", "d"], "gold": "b", "subject": "s"},
    )
    questions = load_question_file(path)
    assert [(q.id, q.gold, q.subject) for q in questions] == [
        ("one", "A", "custom"),
        ("q-1", "B", "s"),
    ]


def test_jsonl_with_letter_keys_and_blank_lines(tmp_path: Path) -> None:
    row = {"question": "Q", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "C"}
    path = _write(tmp_path / "q.jsonl", "\n" + json.dumps(row) + "\n\n")
    assert load_question_file(path)[0].options == ("1", "2", "3", "4")


def test_front_door_loads_files_and_samples(tmp_path: Path) -> None:
    rows = [
        {"question": f"Q{i}", "options": ["a", "b", "c", "d"], "answer": "A", "subject": s}
        for i, s in enumerate(["x", "x", "x", "y", "y", "y"])
    ]
    path = _jsonl(tmp_path / "mine.jsonl", *rows)
    assert len(load_questions(path)) == 6
    assert len(load_questions(str(path), selection="all")) == 6
    picked = load_questions(path, limit=2, seed=1)
    assert sorted(q.subject for q in picked) == ["x", "y"]


@pytest.mark.parametrize("selection", ["redux-ok", "redux", "all", None])
def test_selection_does_not_filter_files(tmp_path: Path, selection: str | None) -> None:
    # Redux labels exist only for the bundled subjects; a file gives all its questions.
    path = _jsonl(tmp_path / "mine.jsonl", {"question": "Q", "options": list("abcd"), "gold": "A"})
    assert len(load_questions(path, selection=selection)) == 1


def test_unknown_selection_for_files(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "mine.jsonl", {"question": "Q", "options": list("abcd"), "gold": "A"})
    with pytest.raises(UnknownNameError, match="redux-ok"):
        load_questions(path, selection="best")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", "", "is empty"),
        ("header.csv", "question,A,B,C,D,answer\n", "holds no questions"),
        ("empty.jsonl", "\n\n", "holds no questions"),
        ("cols.csv", "question,A,B,answer\nQ,1,2,A\n", r"missing A, B, C, D .*Found: question, a"),
        ("nogold.csv", "question,A,B,C,D\nQ,1,2,3,4\n", r"missing answer \(or gold\)"),
        ("nostem.csv", "text,A,B,C,D,answer\nQ,1,2,3,4,A\n", r"missing question \(or stem\)"),
        ("gold.csv", "question,A,B,C,D,answer\nQ,1,2,3,4,A\nQ2,1,2,3,4,E\n", r"row 2 .*'E'"),
        ("gold2.csv", "question,A,B,C,D,answer\nQ,1,2,3,4,1\n", "must be a letter A-D"),
        ("stem.csv", "question,A,B,C,D,answer\n ,1,2,3,4,A\n", "row 1.*question text is empty"),
        ("opt.csv", "question,A,B,C,D,answer\nQ,1,,3,4,A\n", "row 1.*option is empty"),
        ("extra.csv", "question,A,B,C,D,answer\nQ,1,2,3,4,A,oops\n", "more fields than"),
        (
            "dup.csv",
            "id,question,A,B,C,D,answer\nx,Q,1,2,3,4,A\nx,R,1,2,3,4,B\n",
            "duplicate ids: x",
        ),
        ("bad.jsonl", '{"question": "Q"\n', "line 1: invalid JSON"),
        ("list.jsonl", "[1, 2]\n", "line 1: expected a JSON object"),
        (
            "three.jsonl",
            '{"question": "Q", "options": ["a", "b", "c"], "answer": "A"}\n',
            "line 1: expected 4 options, got 3",
        ),
        (
            "five.jsonl",
            '{"question": "Q", "options": ["a", "b", "c", "d", "e"], "answer": "A"}\n',
            "expected 4 options, got 5",
        ),
        (
            "notlist.jsonl",
            '{"question": "Q", "options": "abcd", "answer": "A"}\n',
            "options must be a list of four",
        ),
        (
            "later.jsonl",
            '{"question": "Q", "options": ["a", "b", "c", "d"], "answer": "A"}\n'
            '{"question": "R", "options": ["a", "b", "c", "d"], "answer": "Z"}\n',
            "line 2: gold answer",
        ),
        (
            "keys.jsonl",
            '{"prompt": "Q", "answer": "A"}\n',
            r"missing question \(or stem\); A, B, C, D \(or option_a..option_d, or options\)",
        ),
        ("quiz.txt", "anything", r"must end in \.csv or \.jsonl"),
    ],
)
def test_file_errors(tmp_path: Path, name: str, content: str, match: str) -> None:
    path = _write(tmp_path / name, content)
    with pytest.raises(DataError, match=match) as info:
        load_question_file(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_question_file(tmp_path / "absent.csv")


def test_missing_file_through_front_door(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_questions(str(tmp_path / "absent.jsonl"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"question,A,B,C,D,answer\ncaf\xe9,1,2,3,4,A\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_question_file(path)
