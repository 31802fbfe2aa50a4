"""Reports read the facts sidecar the run wrote, and give what the records give.

``chatsim report``, ``compare`` and the end-of-run summary read ``sidecars/facts`` instead of
every record; the sidecar is a cache, so a missing, partial or stale one must change nothing
but speed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from chatsim.cli import app
from chatsim.metrics import compare, summarize
from chatsim.recording import SIDECARS_DIR, read_run
from chatsim.report import find_questions, load_report_data, summarize_run


def _from_records(run_dir: Path) -> dict[str, object]:
    """The summary as computed from every record (the reference)."""
    run = read_run(run_dir)
    found = find_questions(
        {e.question_id for e in run.episodes}, {e.subject for e in run.episodes}, run.header.config
    )
    data = load_report_data(run_dir)
    summary = summarize(
        run.episodes,
        models=list(run.header.models),
        stems={q: v.stem for q, v in found.items()},
        baseline=data.baseline,
        simulator_choice=run.header.simulator_choice,
    )
    return summary.model_dump(mode="json")


def test_the_run_writes_the_sidecar_and_the_report_reads_it(demo_run: Path) -> None:
    parts = sorted((demo_run / SIDECARS_DIR / "facts").glob("part-*.arrow"))
    assert parts  # written by the run as it recorded its episodes
    data = load_report_data(demo_run)
    assert data.facts.num_rows == len(read_run(demo_run).episodes)
    assert "run" not in data.__dict__  # no record was read for the summary
    assert summarize_run(data).model_dump(mode="json") == _from_records(demo_run)


def test_without_the_sidecar_the_report_rebuilds_it_and_says_the_same(
    demo_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    shutil.rmtree(copy / SIDECARS_DIR)
    assert summarize_run(copy).model_dump(mode="json") == _from_records(copy)
    assert list((copy / SIDECARS_DIR / "facts").glob("part-*.arrow"))  # built on the way


def test_cli_report_and_compare_agree_with_the_records(demo_run: Path) -> None:
    runner = CliRunner()
    report = runner.invoke(app, ["report", str(demo_run), "--json"])
    assert report.exit_code == 0, report.output
    got = json.loads(report.stdout)
    got.pop("paired", None)
    assert got == _from_records(demo_run)
    compared = runner.invoke(app, ["compare", str(demo_run), "--json"])
    assert compared.exit_code == 0, compared.output
    expected = compare([read_run(demo_run)]).model_dump(mode="json")
    assert json.loads(compared.stdout) == expected
