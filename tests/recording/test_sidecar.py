"""Sidecars: parts written as the run goes plus the records they miss give exactly what the
extractor gives over read_run's episodes, under the reader's rules."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from scan_kit import make_record, make_run
from sidecar_kit import append, expected, parts, records, spec
from structlog.testing import capture_logs

from chatsim import RunDirectoryError
from chatsim.protocol import TerminationReason
from chatsim.recording import (
    EPISODES_FILE,
    EpisodeRecord,
    EpisodeWriter,
    load_sidecar,
    read_run,
    read_sidecar,
    repair_run,
    run_dir_lock,
)


def test_parts_written_as_the_run_goes_are_read_as_they_are(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(8), spec())
    assert len(parts(run)) == 3  # 3 + 3, and 2 at close
    read = load_sidecar(run, spec())
    assert read.table.to_pylist() == expected(run)
    assert (read.parts_read, read.records_read, read.parts_written) == (3, 0, 0)
    assert read.table.schema.equals(spec().schema)


def test_a_run_without_parts_is_built_on_first_read_then_read_from_parts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, records(7))
    cold = load_sidecar(run, spec())
    assert cold.table.to_pylist() == expected(run)
    assert (cold.parts_read, cold.records_read, cold.parts_written) == (0, 7, 3)
    warm = load_sidecar(run, spec())
    assert warm.table.to_pylist() == expected(run)
    assert (warm.parts_read, warm.records_read, warm.parts_written) == (3, 0, 0)


def test_build_false_writes_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, records(4))
    assert read_sidecar(run, spec(), build=False).to_pylist() == expected(run)
    assert parts(run) == []


def test_an_empty_run_and_a_run_without_records_give_an_empty_table(tmp_path: Path) -> None:
    make_run(tmp_path / "run", [])
    assert read_sidecar(tmp_path / "run", spec()).num_rows == 0
    (tmp_path / "run" / EPISODES_FILE).unlink()
    assert read_sidecar(tmp_path / "run", spec()).schema.equals(spec().schema)


def test_not_a_run_directory_is_refused_like_read_run(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match=r"no header\.json"):
        read_sidecar(tmp_path, spec())


@pytest.mark.parametrize("tail", [b'{"schema_version":4,"run', b"not json\n", b"\n\n"])
def test_a_torn_tail_is_left_out_and_never_cached(tmp_path: Path, tail: bytes) -> None:
    run = tmp_path / "run"
    make_run(run, records(4))
    with (run / EPISODES_FILE).open("ab") as fh:
        fh.write(tail)
    read = load_sidecar(run, spec())
    assert read.table.to_pylist() == expected(run)
    assert read.torn_tail == read_run(run).torn_tail
    append(run, records(2, first=10), spec())  # cuts a tail without newline, appends after it
    if tail == b"not json\n":  # a complete bad line is not cut: now it is damage
        with pytest.raises(RunDirectoryError, match="chatsim repair"):
            read_sidecar(run, spec())
        return
    assert read_sidecar(run, spec()).to_pylist() == expected(run)
    assert read_sidecar(run, spec()).num_rows == 6


def test_a_damaged_line_after_the_parts_raises_read_runs_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(6), spec())
    with (run / EPISODES_FILE).open("ab") as fh:
        fh.write(b"\n" + make_record(7).model_dump_json().encode()[:-20] + b"\n")
    append(run, records(1, first=8))
    with pytest.raises(RunDirectoryError) as from_run:
        read_run(run)
    with pytest.raises(RunDirectoryError) as from_sidecar:
        read_sidecar(run, spec())
    assert str(from_sidecar.value) == str(from_run.value)
    assert f"{EPISODES_FILE}:8 " in str(from_sidecar.value)  # 6 records, a blank line, then it


def test_an_episode_recorded_twice_is_its_latest_record_at_its_first_place(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    first = [make_record(i, TerminationReason.TARGET_ERROR) for i in range(4)]
    append(run, first, spec(part_rows=2))
    append(run, [make_record(5), make_record(1), make_record(2)], spec(part_rows=2))
    read = load_sidecar(run, spec())
    assert read.table.to_pylist() == expected(run)
    assert [r["episode_id"] for r in read.table.to_pylist()] == [
        "m|q0|0", "m|q1|0", "m|q2|0", "m|q3|0", "m|q5|0"
    ]  # fmt: skip
    assert read.table.to_pylist()[1]["termination"] == "answered"
    assert read.duplicates == read_run(run).duplicates == 2


def test_a_failing_extractor_stops_the_sidecar_and_loses_no_record(tmp_path: Path) -> None:
    def flaky(record: object) -> dict[str, object]:
        raise RuntimeError("no luck")

    run = tmp_path / "run"
    make_run(run, [])
    with capture_logs() as logs:
        append(run, records(5), spec(extract=flaky))
    assert len(read_run(run).episodes) == 5
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and "no luck" in warnings[0]["error"]
    assert read_sidecar(run, spec()).to_pylist() == expected(run)


def test_an_unwritable_sidecar_folder_loses_no_record(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    (run / "sidecars").write_text("not a folder")
    with capture_logs() as logs:
        append(run, records(8), spec())  # parts fail on the writer's thread, seen at the next
    assert len(read_run(run).episodes) == 8
    assert [e["log_level"] for e in logs] == ["warning"]
    assert read_sidecar(run, spec()).to_pylist() == expected(run)  # reading says, goes on


def test_a_corrupt_or_foreign_part_is_ignored_and_replaced(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(9), spec(version=1))
    names = parts(run)
    (run / "sidecars" / "facts" / names[1]).write_bytes(b"ARROW1 not really")
    read = load_sidecar(run, spec(version=1))
    assert read.table.to_pylist() == expected(run)
    assert (read.parts_read, read.records_read, read.parts_written) == (2, 3, 1)
    bumped = load_sidecar(run, spec(version=2))  # the extractor changed: old parts are not its
    assert bumped.table.to_pylist() == expected(run)
    assert (bumped.parts_read, bumped.records_read) == (0, 9)
    assert len(parts(run)) == 3  # the version-1 parts were deleted, version 2's written
    assert load_sidecar(run, spec(version=2)).parts_read == 3


def test_a_crashed_writers_temp_file_is_ignored(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(3), spec())
    folder = run / "sidecars" / "facts"
    (folder / f".{parts(run)[0]}.123.abcd.tmp").write_bytes(b"half an arrow file")
    assert load_sidecar(run, spec()).parts_read == 1
    assert read_sidecar(run, spec()).to_pylist() == expected(run)


def test_a_rewritten_records_file_makes_its_parts_stale(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(9), spec())
    lines = (run / EPISODES_FILE).read_bytes().splitlines(keepends=True)
    (run / EPISODES_FILE).write_bytes(b"".join(lines[:3] + lines[4:]))  # one record taken out
    read = load_sidecar(run, spec())
    assert read.table.to_pylist() == expected(run)
    assert (read.parts_read, read.records_read) == (1, 5)  # the parts from the first change on
    (run / EPISODES_FILE).write_bytes(b"".join(lines[:2]))  # cut short
    assert read_sidecar(run, spec()).to_pylist() == expected(run)


def test_repair_deletes_the_sidecars(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(4), spec())
    with (run / EPISODES_FILE).open("ab") as fh:
        fh.write(b"garbage\n")
    append(run, records(1, first=9), spec())
    repair_run(run)
    assert not (run / "sidecars").exists()
    assert read_sidecar(run, spec()).to_pylist() == expected(run)


def test_resume_appends_parts_after_a_crash_lost_the_buffered_rows(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, [])
    append(run, records(4), spec())  # parts [0..3), [3..4)
    with (run / EPISODES_FILE).open("ab") as fh:  # 2 records whose rows died in a buffer
        fh.write(b"".join(r.model_dump_json().encode() + b"\n" for r in records(2, first=4)))
    append(run, records(4, first=6), spec())  # the resume: parts after the gap
    assert len(parts(run)) == 4
    read = load_sidecar(run, spec())
    assert read.table.to_pylist() == expected(run)
    assert (read.parts_read, read.records_read, read.parts_written) == (4, 2, 1)
    assert load_sidecar(run, spec()).records_read == 0


def test_overlapping_parts_are_chained_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, records(7))
    read_sidecar(run, spec(part_rows=2))
    (run / "sidecars" / "facts" / parts(run)[0]).unlink()  # [0..2) missing
    read = load_sidecar(run, spec(part_rows=3))  # writes [0..3), overlapping [2..4)
    assert read.table.to_pylist() == expected(run)
    again = load_sidecar(run, spec(part_rows=3))
    assert again.table.to_pylist() == expected(run)
    assert again.records_read == 0
    assert again.parts_read == len(parts(run))  # the overlapped part was deleted


def test_no_parts_are_written_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run, records(5))
    with run_dir_lock(run):
        read = load_sidecar(run, spec())
    assert read.table.to_pylist() == expected(run)
    assert read.parts_written == 0 and parts(run) == []
    assert load_sidecar(run, spec()).parts_written == 2  # free again: built


@pytest.mark.parametrize(
    ("kw", "problem"),
    [({"part_rows": 0}, "part_rows"), ({"schema": pa.schema([("id", pa.string())])}, "first")],
)
def test_a_bad_spec_is_refused(kw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        spec(**kw)  # type: ignore[arg-type]


def test_latest_keeps_each_ids_last_row_at_its_first_place() -> None:
    import random

    from chatsim.recording._sidecar_read import latest

    rng = random.Random(7)
    ids = [f"e{rng.randrange(40)}" for _ in range(300)]
    table = pa.table({"episode_id": ids, "row": list(range(300))})
    chunked = pa.concat_tables([table.slice(0, 100), table.slice(100)])
    last = {eid: row for row, eid in enumerate(ids)}
    want = [{"episode_id": eid, "row": last[eid]} for eid in dict.fromkeys(ids)]
    assert latest(chunked).to_pylist() == want
    assert latest(table.slice(0, 0)).num_rows == 0


def test_a_run_starting_during_a_build_stops_it_writing_parts(tmp_path: Path) -> None:
    from contextlib import ExitStack

    from sidecar_kit import extract

    run = tmp_path / "run"
    make_run(run, records(9))
    seen: list[str] = []
    with ExitStack() as stack:

        def locking(record: EpisodeRecord) -> dict[str, object]:
            seen.append(record.episode_id)
            if len(seen) == 4:  # the first part is written; now a run takes the lock
                stack.enter_context(run_dir_lock(run))
            return extract(record)

        read = load_sidecar(run, spec(extract=locking))
    assert read.table.to_pylist() == expected(run)
    assert read.parts_written == 1 and len(parts(run)) == 1


def test_another_record_type_keeps_the_byte_ranges_right(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Other(BaseModel):
        x: int

    run = tmp_path / "run"
    make_run(run, [])
    with EpisodeWriter(run / EPISODES_FILE, sidecars=(spec(),)) as writer:
        writer.append(make_record(0))
        writer.append(Other(x=1))  # not an episode: no row, but its bytes are counted
        writer.append(make_record(1))
    assert len(parts(run)) == 2  # one each side of the foreign line, neither spanning it
    with pytest.raises(RunDirectoryError) as from_run:
        read_run(run)
    with pytest.raises(RunDirectoryError) as from_sidecar:
        read_sidecar(run, spec())
    assert str(from_sidecar.value) == str(from_run.value)


def test_writing_records_without_sidecars_does_not_import_pyarrow(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from chatsim.recording import EpisodeWriter;"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r}); from scan_kit import make_record;"
        f"w = EpisodeWriter(Path({str(tmp_path / 'e.jsonl')!r})).open();"
        "w.append(make_record(0)); w.close(); print('pyarrow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
