"""Resume's frame scan reads what the full reader reads: ids, terminations, torn tails, damage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scan_kit import make_record, make_run

from chatsim import RunDirectoryError
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import (
    HEADER_FILE,
    SCHEMA_VERSION,
    TurnRecord,
    open_recorded_for_resume,
    read_run,
    scan_recorded,
)


def _full(run_dir: Path) -> dict[str, TerminationReason]:
    return {r.episode_id: r.termination for r in read_run(run_dir).episodes}


def test_the_scan_reads_what_read_run_reads_without_validating_the_records(tmp_path: Path) -> None:
    reasons = list(TerminationReason)
    records = [make_record(i, reasons[i % len(reasons)]) for i in range(12)]
    records += [
        make_record(1, TerminationReason.ANSWERED),  # a --retry-errors re-run supersedes the first
        make_record(20, episode_id='m|q "quoted" \\ é\u2028|0'),  # escapes and separators in an id
        make_record(21, extra={"judge": {"termination": "timeout", "correct": True, "extra": {}}}),
        make_record(
            22,
            turns=[
                TurnRecord(
                    index=0,
                    role=Role.USER,
                    text='"correct":true,"termination":"timeout"',
                    requested_at=1,
                    started_at=1,
                    ended_at=2,
                )
            ],
        ),
    ]
    path = make_run(tmp_path / "run", records)
    with path.open("a") as fh:
        fh.write("\n")  # a blank line is not a record
    recorded = scan_recorded(tmp_path / "run")
    assert recorded.terminations == _full(tmp_path / "run")
    assert list(recorded.terminations) == [
        r.episode_id for r in read_run(tmp_path / "run").episodes
    ]
    assert recorded.terminations["m|q21|0"] is TerminationReason.ANSWERED  # not extra's key
    assert recorded.terminations["m|q22|0"] is TerminationReason.ANSWERED  # not the text's
    assert (recorded.records, recorded.duplicates) == (16, 1)
    assert recorded.validated == 0  # the last line is blank: every record read as written
    assert recorded.torn_tail is None


def test_done_skips_error_endings_only_when_they_are_retried(tmp_path: Path) -> None:
    make_run(
        tmp_path / "run",
        [
            make_record(0),
            make_record(1, TerminationReason.TIMEOUT),
            make_record(2, TerminationReason.TARGET_ERROR),
            make_record(2),
            make_record(3, TerminationReason.INVALID_ANSWER),
        ],
    )
    recorded = scan_recorded(tmp_path / "run")
    assert recorded.done() == {"m|q0|0", "m|q1|0", "m|q2|0", "m|q3|0"}
    assert recorded.done(retry_errors=True) == {"m|q0|0", "m|q2|0", "m|q3|0"}


def test_lines_in_another_key_order_are_validated_in_full(tmp_path: Path) -> None:
    path = make_run(tmp_path / "run", [])
    records = [
        make_record(i, TerminationReason.TIMEOUT if i == 1 else TerminationReason.ANSWERED)
        for i in range(3)
    ]
    path.write_text(
        "".join(json.dumps(r.model_dump(mode="json"), sort_keys=True) + "\n" for r in records)
    )
    recorded = scan_recorded(tmp_path / "run")
    assert recorded.terminations == _full(tmp_path / "run")
    assert recorded.validated == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: b"garbage\n",
        lambda line: line[:-30] + b"\n",  # a disk error cut the end of the record
        lambda line: line[: line.index(b'"answer_method"')] + line[line.index(b'"user_') :],
        lambda line: line.replace(b'"termination":"answered"', b'"termination":"won"'),
        lambda line: line.replace(b'"correct":true', b'"correct":null'),
    ],
)
def test_damage_before_the_last_line_refuses_the_run_as_the_reader_does(
    tmp_path: Path, damage: Any
) -> None:
    path = make_run(tmp_path / "run", [make_record(i) for i in range(3)])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + damage(lines[1]) + lines[2])
    with pytest.raises(RunDirectoryError) as full:
        read_run(tmp_path / "run")
    with pytest.raises(RunDirectoryError) as scanned:
        scan_recorded(tmp_path / "run")
    assert str(scanned.value) == str(full.value)
    assert f"{path}:2 is not a valid episode record" in str(scanned.value)
    assert f"chatsim repair {tmp_path / 'run'}" in str(scanned.value)


def test_damage_inside_a_body_is_left_to_the_full_readers(tmp_path: Path) -> None:
    path = make_run(tmp_path / "run", [make_record(i) for i in range(3)])
    lines = path.read_bytes().splitlines(keepends=True)
    cut = lines[1].replace(b'"role":"user"', b'"role":"us')  # the frame is intact
    path.write_bytes(lines[0] + cut + lines[2])
    assert scan_recorded(tmp_path / "run").done() == {"m|q0|0", "m|q1|0", "m|q2|0"}
    with pytest.raises(RunDirectoryError, match=f"{path}:2 is not a valid episode record"):
        read_run(tmp_path / "run")  # report, compare: then chatsim repair, and a resume re-runs it


@pytest.mark.parametrize(
    "tail",
    [
        lambda record: record[:40],  # died mid-write
        lambda record: record[:-1],  # the whole record, its newline never written
        lambda record: record[:-30] + b"\n",  # complete line that does not validate
    ],
)
def test_a_torn_last_line_is_skipped_and_cut_on_resume(tmp_path: Path, tail: Any) -> None:
    path = make_run(tmp_path / "run", [make_record(0), make_record(1)])
    complete = path.read_bytes()
    with path.open("ab") as fh:
        fh.write(tail(make_record(9).model_dump_json().encode() + b"\n"))
    recorded = scan_recorded(tmp_path / "run")
    assert recorded.torn_tail is not None and recorded.torn_tail.offset == len(complete)
    assert recorded.done() == {"m|q0|0", "m|q1|0"}
    assert path.read_bytes() != complete  # scanning changes nothing
    header, on_resume = open_recorded_for_resume(tmp_path / "run")
    assert on_resume.done() == recorded.done()
    assert path.read_bytes() == complete  # complete records untouched, torn bytes gone
    assert header.run_id == "r1"


def test_resume_raises_an_older_header_and_reads_an_absent_file_as_empty(tmp_path: Path) -> None:
    path = make_run(tmp_path / "run", [])
    path.unlink()
    header = json.loads((tmp_path / "run" / HEADER_FILE).read_text())
    (tmp_path / "run" / HEADER_FILE).write_text(json.dumps({**header, "schema_version": 1}))
    header_now, recorded = open_recorded_for_resume(tmp_path / "run")
    assert header_now.schema_version == SCHEMA_VERSION
    assert json.loads((tmp_path / "run" / HEADER_FILE).read_text())["schema_version"] == 4
    assert recorded.terminations == {} and recorded.torn_tail is None
