"""``repair_run`` moves damaged record lines aside, byte for byte, and touches nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from chatsim import RunDirectoryError
from chatsim._exceptions import DataError
from chatsim.baseline import read_baseline
from chatsim.cli._repair import repair_lines
from chatsim.judge import read_judge
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import (
    BASELINE_FILE,
    BASELINE_QUARANTINE_FILE,
    EPISODE_RECORDS,
    EPISODES_FILE,
    EPISODES_QUARANTINE_FILE,
    JUDGE_FILE,
    JUDGE_QUARANTINE_FILE,
    BaselineRecord,
    EpisodeRecord,
    JudgeRecord,
    RunHeader,
    TurnRecord,
    create_run_dir,
    read_run,
    repair_run,
    run_dir_lock,
)
from chatsim.recording._jsonl import validation_summary
from chatsim.recording._repair import recover_ids


def _record(i: int) -> EpisodeRecord:
    turn = TurnRecord(
        index=0, role=Role.USER, text="Answer: A", requested_at=1, started_at=1, ended_at=2
    )
    return EpisodeRecord(
        run_id="r1", episode_id=f"m|q{i}|0", model="m", simulator="scripted",
        question_id=f"q{i}", subject="s", repeat=0, seed=i, gold="A", turns=[turn],
        final_answer="A", answer_method="explicit", correct=True,
        termination=TerminationReason.ANSWERED, user_messages=0, started_at=1, ended_at=2,
    )  # fmt: skip


def _line(i: int) -> bytes:
    return _record(i).model_dump_json().encode() + b"\n"


def _run_dir(tmp_path: Path, lines: list[bytes]) -> Path:
    run_dir = tmp_path / "run"
    header = RunHeader(
        run_id="r1",
        created_at=1.0,
        config={"models": ["m"]},
        versions={},
        seed=0,
        planned_episodes=len(lines),
    )
    create_run_dir(run_dir, header)
    (run_dir / EPISODES_FILE).write_bytes(b"".join(lines))
    return run_dir


def _cut(line: bytes) -> bytes:
    """A record cut in the middle by a disk error, its newline kept."""
    return line[: len(line) // 2] + b"\n"


def test_a_damaged_middle_line_is_moved_and_the_valid_bytes_stay_identical(
    tmp_path: Path,
) -> None:
    # Hand-formatted but valid: a re-serialising repair would change these bytes.
    odd = json.dumps(json.loads(_line(2)), indent=None, separators=(", ", " : ")).encode() + b"\n"
    run_dir = _run_dir(tmp_path, [_line(0), _cut(_line(1)), odd, b"\n", _line(3)])
    with pytest.raises(RunDirectoryError, match=f"run: chatsim repair {run_dir}$"):
        read_run(run_dir)
    result = repair_run(run_dir)
    (repair,) = result.files
    (bad,) = repair.quarantined
    assert (bad.number, bad.length, bad.record_ids) == (2, len(_cut(_line(1))), ("m|q1|0",))
    assert "Invalid JSON" in bad.reason and not result.nothing_to_repair
    assert repair.kept == 3 and repair.quarantine == run_dir / EPISODES_QUARANTINE_FILE
    assert (run_dir / EPISODES_FILE).read_bytes() == _line(0) + odd + _line(3)  # blank dropped
    assert (run_dir / EPISODES_QUARANTINE_FILE).read_bytes() == _cut(_line(1))
    assert [e.episode_id for e in read_run(run_dir).episodes] == ["m|q0|0", "m|q2|0", "m|q3|0"]
    assert {p.name for p in run_dir.iterdir()} == {
        "header.json", ".lock", EPISODES_FILE, EPISODES_QUARANTINE_FILE,
    }  # fmt: skip


@pytest.mark.parametrize("tail", [_line(2)[:-1], _line(2)[:30]], ids=["json", "cut"])
def test_a_torn_tail_is_moved_with_a_newline_added(tmp_path: Path, tail: bytes) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), _line(1), tail])
    (bad,) = repair_run(run_dir).files[0].quarantined
    assert bad.number == 3 and bad.reason.startswith("torn last line (no newline)")
    assert bad.record_ids == (("m|q2|0",) if len(tail) > 30 else ())
    assert (run_dir / EPISODES_FILE).read_bytes() == _line(0) + _line(1)
    assert (run_dir / EPISODES_QUARANTINE_FILE).read_bytes() == tail + b"\n"


def test_a_second_repair_finds_nothing_and_touches_nothing(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"garbage\n", _line(1), b"\n"])
    repair_run(run_dir)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in run_dir.iterdir()}
    again = repair_run(run_dir)
    assert again.nothing_to_repair and again.files[0].kept == 2
    assert not again.files[0].quarantined
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in run_dir.iterdir()} == before


def test_blank_lines_alone_are_nothing_to_repair(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"\n", b"  \n", _line(1)])
    result = repair_run(run_dir)
    assert result.nothing_to_repair and result.files[0].kept == 2
    assert (run_dir / EPISODES_FILE).read_bytes() == _line(0) + b"\n  \n" + _line(1)
    assert not (run_dir / EPISODES_QUARANTINE_FILE).exists()


def test_later_damage_is_appended_to_the_quarantine(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"first damage\n", _line(1)])
    repair_run(run_dir)
    with (run_dir / EPISODES_FILE).open("ab") as fh:
        fh.write(_cut(_line(2)) + _line(3))
    (bad,) = repair_run(run_dir).files[0].quarantined
    assert bad.number == 3 and bad.record_ids == ("m|q2|0",)
    assert (run_dir / EPISODES_QUARANTINE_FILE).read_bytes() == b"first damage\n" + _cut(_line(2))
    assert (run_dir / EPISODES_FILE).read_bytes() == _line(0) + _line(1) + _line(3)


def test_a_quarantine_left_mid_line_is_never_glued_onto(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"damage\n", _line(1)])
    (run_dir / EPISODES_QUARANTINE_FILE).write_bytes(b"an earlier repair died here")
    repair_run(run_dir)
    quarantined = (run_dir / EPISODES_QUARANTINE_FILE).read_bytes()
    assert quarantined == b"an earlier repair died here\ndamage\n"


def _baseline(question: str) -> bytes:
    record = BaselineRecord(
        model="m", question_id=question, subject="s", mode="zero_shot", repeat=0, gold="A",
        answer="A", correct=True, text="A", requested_at=1, started_at=1, ended_at=2,
    )  # fmt: skip
    return record.model_dump_json().encode() + b"\n"


def test_the_baseline_file_is_repaired_too(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0)])
    damaged = _baseline("q2").replace(b'"correct":true', b'"correct":"maybe"')
    (run_dir / BASELINE_FILE).write_bytes(_baseline("q1") + damaged + _baseline("q3"))
    with pytest.raises(DataError, match=f"run: chatsim repair {run_dir}$"):
        read_baseline(run_dir)
    result = repair_run(run_dir)
    episodes, baseline = result.files
    assert not episodes.quarantined and episodes.kept == 1
    (bad,) = baseline.quarantined
    assert (bad.number, bad.record_ids, baseline.id_field) == (2, ("q2",), "question_id")
    assert bad.reason.startswith("correct: Input should be a valid boolean")
    assert (run_dir / BASELINE_QUARANTINE_FILE).read_bytes() == damaged
    assert [r.question_id for r in read_baseline(run_dir)] == ["q1", "q3"]


def _judgement(episode: int, judge: str = "j") -> bytes:
    record = JudgeRecord(
        episode_id=f"m|q{episode}|0", model="m", question_id=f"q{episode}", judge=judge,
        coherence=4, satisfaction=5, raw="{}", episode_ended_at=2,
    )  # fmt: skip
    return record.model_dump_json().encode() + b"\n"


def test_the_judge_file_is_repaired_too(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), _line(1), _line(2)])
    damaged = _judgement(1).replace(b'"coherence":4', b'"coherence":"four"')
    (run_dir / JUDGE_FILE).write_bytes(_judgement(0) + damaged + _judgement(2))
    with pytest.raises(RunDirectoryError, match=r"judge\.jsonl:2 is not a valid judge record"):
        read_judge(run_dir)
    result = repair_run(run_dir)
    episodes, judge = result.files  # no baseline.jsonl: not checked
    assert repair_lines(result)[-1].startswith(f"next: chatsim report {run_dir} --judge JUDGE")
    assert not episodes.quarantined and judge.path == run_dir / JUDGE_FILE
    (bad,) = judge.quarantined
    assert (bad.number, bad.record_ids, judge.id_field) == (2, ("m|q1|0",), "episode_id")
    assert bad.reason.startswith("coherence: Input should be a valid integer")
    assert (run_dir / JUDGE_QUARANTINE_FILE).read_bytes() == damaged
    assert [r.episode_id for r in read_judge(run_dir)] == ["m|q0|0", "m|q2|0"]


def test_every_record_file_is_checked_by_default_and_only_those(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"damage\n"])
    (run_dir / BASELINE_FILE).write_bytes(b"damage\n" + _baseline("q1"))
    (run_dir / JUDGE_FILE).write_bytes(b"damage\n" + _judgement(0))
    (run_dir / "log.jsonl").write_bytes(b"not a record\n{}\n")
    result = repair_run(run_dir)
    assert [f.path.name for f in result.files] == [EPISODES_FILE, BASELINE_FILE, JUDGE_FILE]
    assert all(len(f.quarantined) == 1 and f.kept == 1 for f in result.files)
    assert (run_dir / "log.jsonl").read_bytes() == b"not a record\n{}\n"
    assert [f.path.name for f in repair_run(run_dir, (EPISODE_RECORDS,)).files] == [EPISODES_FILE]


def test_a_run_being_written_is_refused(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"damage\n", _line(1)])
    before = (run_dir / EPISODES_FILE).read_bytes()
    with run_dir_lock(run_dir), pytest.raises(RunDirectoryError, match="another chatsim process"):
        repair_run(run_dir)
    assert (run_dir / EPISODES_FILE).read_bytes() == before


def test_a_lock_held_by_another_process_is_refused(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, [_line(0), b"damage\n", _line(1)])
    holder = (
        "import fcntl, sys\n"
        "fh = open(sys.argv[1], 'a+')\n"
        "fcntl.flock(fh.fileno(), fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", holder, str(run_dir / ".lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            assert proc.stdout.readline() == "locked\n"
            with pytest.raises(RunDirectoryError, match="being written by another"):
                repair_run(run_dir)
        finally:
            proc.stdin.close()  # the holder exits; the kernel drops its lock
    assert proc.returncode == 0
    assert not repair_run(run_dir).nothing_to_repair


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda p: None, "not a directory"), (lambda p: p.mkdir(), "no header.json")],
)
def test_not_a_run_directory(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "x"
    make(path)  # type: ignore[operator]
    with pytest.raises(RunDirectoryError, match=message):
        repair_run(path)
    assert not (path / ".lock").exists()  # no lock file planted in a stranger's directory


def test_ids_are_recovered_from_broken_json() -> None:
    glued = _line(1)[:-40] + _line(2)  # a cut joined two records
    assert recover_ids(glued, "episode_id") == ("m|q1|0", "m|q2|0")
    assert recover_ids(_line(3)[:-1] + b",}", "episode_id") == ("m|q3|0",)
    assert recover_ids(b'{"episode_id": "a\\"b", "x": ', "episode_id") == ('a"b',)
    assert recover_ids(b'{"text": "say \\"episode_id\\": \\"no\\""', "episode_id") == ()
    assert recover_ids(b"\xff\xfe garbage", "episode_id") == ()


def test_the_reason_never_quotes_the_record() -> None:
    with pytest.raises(ValidationError) as caught:
        EpisodeRecord.model_validate_json(
            _line(0).replace(b'"seed":0', b'"seed":"sk-secret-value-0123456789"')
        )
    summary = validation_summary(caught.value)
    assert summary == "seed: Input should be a valid integer, unable to parse string as an integer"
    assert "sk-secret" not in summary
