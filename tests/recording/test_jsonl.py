"""The one tolerant reader of record files: what it skips, what it refuses, and that every
record file (episodes, baseline, judge) is read by the same rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatsim import RunDirectoryError
from chatsim.baseline import read_baseline
from chatsim.judge import read_judge
from chatsim.recording import (
    BASELINE_FILE,
    JUDGE_FILE,
    BaselineRecord,
    JsonlWriter,
    JudgeRecord,
    TornTail,
    read_jsonl,
)
from chatsim.recording._jsonl import iter_lines


def _baseline(question: str, text: str = "A") -> BaselineRecord:
    return BaselineRecord(
        model="m", question_id=question, subject="s", mode="free_text", repeat=0, gold="A",
        answer="A", correct=True, text=text, requested_at=1, started_at=1, ended_at=2,
    )  # fmt: skip


def _line(record: BaselineRecord) -> bytes:
    return record.model_dump_json().encode() + b"\n"


def test_lines_are_split_on_newlines_alone_and_the_last_is_known(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\n\xe2\x80\xa8b\x85\n\ntail")
    lines = list(iter_lines(path))
    assert [(n.number, n.offset, n.last, n.complete) for n in lines] == [
        (1, 0, False, True), (2, 2, False, True), (3, 8, False, True), (4, 9, True, False),
    ]  # fmt: skip


def test_records_with_line_numbers_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / BASELINE_FILE
    path.write_bytes(_line(_baseline("q1")) + b"\n  \n" + _line(_baseline("q2")))
    records = read_jsonl(path, BaselineRecord)
    assert [(n, r.question_id) for n, r in records] == [(1, "q1"), (4, "q2")]
    assert records.torn_tail is None
    assert list(read_jsonl(tmp_path / "absent.jsonl", BaselineRecord)) == []


@pytest.mark.parametrize(
    "tail",
    [_line(_baseline("q2"))[:-1], _line(_baseline("q2"))[:25], b"garbage\n"],
    ids=["valid-but-no-newline", "cut", "invalid-last-line"],
)
def test_a_torn_tail_is_skipped_and_reported(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / BASELINE_FILE
    first = _line(_baseline("q1"))
    path.write_bytes(first + tail)
    records = read_jsonl(path, BaselineRecord)
    assert [r.question_id for _, r in records] == ["q1"]
    assert records.torn_tail == TornTail(number=2, offset=len(first))


def test_damage_before_the_last_line_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "run" / BASELINE_FILE
    path.parent.mkdir()
    damaged = _line(_baseline("q2", text="sk-secret")).replace(b'"repeat":0', b'"repeat":"x"')
    path.write_bytes(_line(_baseline("q1")) + damaged + _line(_baseline("q3")))
    with pytest.raises(RunDirectoryError) as caught:
        list(read_jsonl(path, BaselineRecord, kind="baseline"))
    message = str(caught.value)
    assert message.startswith(f"{path}:2 is not a valid baseline record (repeat: Input should")
    assert message.endswith(f"run: chatsim repair {path.parent}")
    assert "sk-secret" not in message


def test_a_reply_holding_unicode_line_separators_reads_back(tmp_path: Path) -> None:
    # str.splitlines cuts at U+2028 and NEL: the baseline reader once refused such a file.
    record = _baseline("q1", text="first\u2028second\x85third\x1cfourth")
    with JsonlWriter(tmp_path / BASELINE_FILE) as writer:
        writer.append(record)
        writer.append(_baseline("q2"))
    assert read_baseline(tmp_path) == [record, _baseline("q2")]


def test_a_baseline_answer_whose_newline_was_lost_is_not_counted_as_done(tmp_path: Path) -> None:
    # The next writer cuts that line away, so a reader that counted it would skip it for good.
    (tmp_path / BASELINE_FILE).write_bytes(_line(_baseline("q1")) + _line(_baseline("q2"))[:-1])
    assert [r.question_id for r in read_baseline(tmp_path)] == ["q1"]
    with JsonlWriter(tmp_path / BASELINE_FILE):
        pass
    assert [r.question_id for r in read_baseline(tmp_path)] == ["q1"]


def test_the_judge_file_skips_blank_lines_and_keeps_the_latest(tmp_path: Path) -> None:
    def judged(episode: str, coherence: int) -> bytes:
        record = JudgeRecord(episode_id=episode, model="m", question_id="q", judge="j",
                             coherence=coherence, satisfaction=3)  # fmt: skip
        return record.model_dump_json().encode() + b"\n"

    (tmp_path / JUDGE_FILE).write_bytes(judged("a", 1) + b"\n" + judged("b", 2) + judged("a", 3))
    assert [(r.episode_id, r.coherence) for r in read_judge(tmp_path)] == [("b", 2), ("a", 3)]
