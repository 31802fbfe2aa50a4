"""The columnar read path gives read_run's episodes, as columns, under the reader's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scan_kit import make_record, make_run

from chatsim import RunDirectoryError
from chatsim.protocol import TerminationReason
from chatsim.recording import _columns, read_run
from chatsim.recording._columns import EPISODE_COLUMNS, episode_table


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    names = set(EPISODE_COLUMNS.names)
    return [
        {**r.model_dump(mode="json", include=names), "is_error": r.termination.is_error}
        for r in read_run(run_dir).episodes
    ]


def test_the_table_holds_read_runs_episodes(tmp_path: Path) -> None:
    reasons = list(TerminationReason)
    records = [make_record(i, reasons[i % len(reasons)]) for i in range(12)]
    records += [
        make_record(1),  # supersedes the first record of m|q1|0, at its position
        make_record(
            20,
            episode_id='m|q "quoted" é\u2028|0',
            condition="answer-first",
            initial_answer="B",
            initial_answer_method="explicit",
            initial_correct=False,
        ),
    ]
    make_run(tmp_path / "run", records)
    table = episode_table(tmp_path / "run")
    assert table.schema.names == [*EPISODE_COLUMNS.names, "is_error"]
    assert table.to_pylist() == _rows(tmp_path / "run")
    assert table.num_rows == 13


@pytest.mark.parametrize("tail", [b'{"schema_version":4,"run', b"not json\n", b"\n\n"])
def test_a_torn_tail_is_left_out(tmp_path: Path, tail: bytes) -> None:
    path = make_run(tmp_path / "run", [make_record(0), make_record(1)])
    with path.open("ab") as fh:
        fh.write(tail)
    assert episode_table(tmp_path / "run").to_pylist() == _rows(tmp_path / "run")
    assert episode_table(tmp_path / "run").num_rows == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:-30] + b"\n",
        lambda line: b'{"a": 1}\n',  # JSON, but not a record
        lambda line: line.replace(b'"termination":"answered"', b'"termination":"won"'),
    ],
)
def test_damage_raises_the_readers_error(tmp_path: Path, damage: Any) -> None:
    path = make_run(tmp_path / "run", [make_record(i) for i in range(3)])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + damage(lines[1]) + lines[2])
    with pytest.raises(RunDirectoryError) as full:
        read_run(tmp_path / "run")
    with pytest.raises(RunDirectoryError) as columns:
        episode_table(tmp_path / "run")
    assert str(columns.value) == str(full.value)


def test_records_before_schema_4_read_as_direct_to_ai_and_an_absent_file_as_empty(
    tmp_path: Path,
) -> None:
    path = make_run(tmp_path / "run", [make_record(0), make_record(1)])
    old = [json.loads(line) for line in path.read_text().splitlines()]
    for record in old:
        for field in (
            "condition",
            "initial_turn",
            "initial_answer",
            "initial_answer_method",
            "initial_correct",
        ):
            record.pop(field)
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    table = episode_table(tmp_path / "run")
    assert table["condition"].to_pylist() == ["direct-to-AI"] * 2
    assert table.to_pylist() == _rows(tmp_path / "run")
    path.unlink()
    assert episode_table(tmp_path / "run").num_rows == 0


def test_a_line_longer_than_a_parse_block_falls_back_to_the_full_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_columns, "_BLOCK", 256)  # every record is longer than this
    make_run(tmp_path / "run", [make_record(i) for i in range(3)])
    assert episode_table(tmp_path / "run").to_pylist() == _rows(tmp_path / "run")
