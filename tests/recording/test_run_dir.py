"""The run directory survives crashes: torn last lines, damaged headers, duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatsim import RunDirectoryError
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import (
    EPISODES_FILE,
    HEADER_FILE,
    SCHEMA_VERSION,
    EpisodeRecord,
    EpisodeWriter,
    RunHeader,
    TurnRecord,
    create_run_dir,
    open_for_resume,
    read_run,
)


def _header() -> RunHeader:
    return RunHeader(
        run_id="r1",
        created_at=1.0,
        config={"models": ["m"]},
        versions={},
        seed=0,
        planned_episodes=3,
    )


def _record(i: int) -> EpisodeRecord:
    turn = TurnRecord(
        index=0, role=Role.USER, text="Answer: A", requested_at=1, started_at=1, ended_at=2
    )
    return EpisodeRecord(
        run_id="r1",
        episode_id=f"m|q{i}|0",
        model="m",
        simulator="scripted",
        question_id=f"q{i}",
        subject="s",
        repeat=0,
        seed=i,
        gold="A",
        turns=[turn],
        final_answer="A",
        answer_method="explicit",
        correct=True,
        termination=TerminationReason.ANSWERED,
        user_messages=0,
        started_at=1,
        ended_at=2,
    )


def _write(run_dir: Path, n: int) -> None:
    create_run_dir(run_dir, _header())
    writer = EpisodeWriter(run_dir / EPISODES_FILE).open()
    for i in range(n):
        writer.append(_record(i))
    writer.close()


def test_round_trip(tmp_path: Path) -> None:
    _write(tmp_path / "run", 3)
    data = read_run(tmp_path / "run")
    assert [r.episode_id for r in data.episodes] == ["m|q0|0", "m|q1|0", "m|q2|0"]
    assert data.header.run_id == "r1"
    assert not data.torn_tail


def test_torn_last_line_is_skipped_on_read_and_cut_on_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _write(run_dir, 2)
    episodes = run_dir / EPISODES_FILE
    complete = episodes.read_bytes()
    with episodes.open("ab") as fh:
        fh.write(_record(9).model_dump_json().encode()[:40])  # died mid-write
    data = read_run(run_dir)
    assert data.torn_tail and len(data.episodes) == 2
    assert episodes.read_bytes() != complete  # reading changes nothing
    open_for_resume(run_dir)
    assert episodes.read_bytes() == complete  # complete records untouched, torn bytes gone


def test_a_schema_1_run_reads_unchanged_and_resuming_raises_its_header(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _write(run_dir, 2)
    header = json.loads((run_dir / HEADER_FILE).read_text())
    header["schema_version"] = 1
    (run_dir / HEADER_FILE).write_text(json.dumps(header))
    lines = (run_dir / EPISODES_FILE).read_text().splitlines()
    old = [json.loads(line) for line in lines]
    for record in old:  # as version 1 wrote them: no sent_at, no max_token_gap
        record["schema_version"] = 1
        for turn in record["turns"]:
            turn.pop("max_token_gap", None)
            for attempt in turn["attempts"]:
                attempt.pop("sent_at", None)
    (run_dir / EPISODES_FILE).write_text("".join(json.dumps(r) + "\n" for r in old))
    assert read_run(run_dir).header.schema_version == 1  # reading changes nothing
    assert len(read_run(run_dir).episodes) == 2
    data = open_for_resume(run_dir)
    assert data.header.schema_version == SCHEMA_VERSION == 4
    assert json.loads((run_dir / HEADER_FILE).read_text())["schema_version"] == 4
    assert len(data.episodes) == 2


def test_complete_json_without_newline_is_treated_as_torn(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _write(run_dir, 1)
    with (run_dir / EPISODES_FILE).open("a") as fh:
        fh.write(_record(5).model_dump_json())  # newline never written
    data = open_for_resume(run_dir)
    assert len(data.episodes) == 1
    assert (run_dir / EPISODES_FILE).read_text().endswith("\n")


def test_damage_in_the_middle_is_an_error_not_a_silent_repair(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _write(run_dir, 2)
    lines = (run_dir / EPISODES_FILE).read_text().splitlines(keepends=True)
    (run_dir / EPISODES_FILE).write_text("garbage\n" + "".join(lines))
    with pytest.raises(RunDirectoryError, match="not a valid episode record"):
        open_for_resume(run_dir)


def test_a_later_record_of_an_episode_supersedes_the_earlier(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _write(run_dir, 2)
    writer = EpisodeWriter(run_dir / EPISODES_FILE).open()
    writer.append(_record(0).model_copy(update={"final_answer": "C", "correct": False}))
    writer.close()
    data = read_run(run_dir)
    assert [e.episode_id for e in data.episodes] == ["m|q0|0", "m|q1|0"]
    assert data.episodes[0].final_answer == "C" and data.duplicates == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "not a directory"),
        (lambda p: p.mkdir(), "no header.json"),
        (lambda p: (p.mkdir(), (p / HEADER_FILE).write_text('{"run_id": "x", "crea')), "damaged"),
        (lambda p: (p.mkdir(), (p / HEADER_FILE).write_text("[]")), "damaged"),
    ],
)
def test_not_a_run_directory(tmp_path: Path, setup: object, message: str) -> None:
    path = tmp_path / "x"
    setup(path)  # type: ignore[operator]
    with pytest.raises(RunDirectoryError, match=message):
        read_run(path)


def test_refuses_to_overwrite_a_run(tmp_path: Path) -> None:
    _write(tmp_path / "run", 1)
    with pytest.raises(RunDirectoryError, match="--resume"):
        create_run_dir(tmp_path / "run", _header())


def test_writer_cuts_a_torn_tail_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3, "tr')
    writer = EpisodeWriter(path).open()
    writer.append(_record(0))
    writer.close()
    lines = path.read_text().splitlines()
    assert lines[:2] == ['{"a": 1}', '{"a": 2}']
    assert EpisodeRecord.model_validate_json(lines[2]).episode_id == "m|q0|0"


def test_a_run_directory_has_one_writer_at_a_time(tmp_path: Path) -> None:
    from chatsim.recording import run_dir_lock

    _write(tmp_path / "run", 1)
    with (
        run_dir_lock(tmp_path / "run"),
        pytest.raises(RunDirectoryError, match="another chatsim process"),
        run_dir_lock(tmp_path / "run"),
    ):
        pass
    with run_dir_lock(tmp_path / "run"):  # released: the next writer may go
        pass


def test_the_header_config_is_typed_by_the_run_kind() -> None:
    from chatsim.config import LoadTestConfig, RunConfig

    common = {"run_id": "r", "created_at": 1.0, "versions": {}, "seed": 0, "planned_episodes": 0}
    run = RunHeader.model_validate({**common, "config": {"models": ["vllm:a"], "repeats": 3}})
    assert isinstance(run.config, RunConfig) and run.config.repeats == 3
    assert run.models == ("vllm:a",)
    # A load-test header written before the config was typed also carried "models".
    old = {"model": "vllm:a", "rate": 2, "duration": 5, "models": ["vllm:a"]}
    load = RunHeader.model_validate({**common, "kind": "loadtest", "config": old})
    assert isinstance(load.config, LoadTestConfig) and load.models == ("vllm:a",)
    # The JSON stays what it was: a round trip gives the same header.
    assert RunHeader.model_validate_json(load.model_dump_json()) == load
    with pytest.raises(ValueError, match="a duration or a number of conversations"):
        RunHeader.model_validate({**common, "kind": "loadtest", "config": {"model": "m"}})
