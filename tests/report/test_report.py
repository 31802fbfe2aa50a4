"""The report over a real run directory: summary, exports, HTML, CLI."""

from __future__ import annotations

import json
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chatsim import MissingDependencyError, RunDirectoryError
from chatsim.cli._compare import compare_command
from chatsim.cli._report import report_command
from chatsim.report import (
    Section,
    decode_viewer_data,
    export_tables,
    load_report_data,
    register_section,
    render_html,
    summarize_run,
    to_dataframes,
)
from chatsim.report._sections import _RENDERERS

ALPHA, BETA = "fake:alpha", "fake:beta"


class _Scan(HTMLParser):
    """Collects section ids, external resource references and plot divs."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.external: list[str] = []
        self.plots = 0
        self.viewer_data = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.append(str(a["id"]))
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)
        if "plotly-graph-div" in (a.get("class") or ""):
            self.plots += 1
        self._in_data = tag == "script" and a.get("id") == "cv-data"

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.viewer_data += data


def test_summary_of_a_real_run(demo_run: Path) -> None:
    s = summarize_run(demo_run)
    assert list(s.models) == [ALPHA, BETA]
    assert s.models[ALPHA].episodes == 8
    assert s.models[ALPHA].questions == 4
    assert {r.mode for r in s.baseline} == {"zero_shot", "free_text"}
    recovery = s.models[BETA].recovery
    assert recovery.failed_attempts == {"transient": 2}  # the scripted 502s
    assert recovery.retried_calls in (1, 2)  # one call or two, depending on scheduling
    assert recovery.recovered_episodes == recovery.episodes_with_failures >= 1
    assert s.models[ALPHA].recovery.retried_calls == 0
    assert s.models[ALPHA].behaviour.copy_checked == 8  # bundled questions were found
    assert s.models[ALPHA].latency.calls > 0


def test_html_report_is_self_contained_and_complete(demo_run: Path) -> None:
    data = load_report_data(demo_run)
    html = render_html(data)
    scan = _Scan()
    scan.feed(html)
    assert scan.sections == [
        "headline", "overview", "accuracy", "paired", "baseline", "behaviour", "latency",
        "timeline", "recovery", "questions", "conversations",
    ]  # fmt: skip
    assert scan.external == []  # nothing is fetched: plotly is inlined
    assert "Plotly" in html
    assert scan.plots >= 6
    episodes = decode_viewer_data(scan.viewer_data)["episodes"]
    assert len(episodes) == 16  # every episode
    # Transcripts travel as data (set as text by the viewer), never as markup in the page.
    assert "<script>alert(" not in html
    texts = [turn[1] for ep in episodes for turn in ep[8]]
    assert any("The answer is" in t for t in texts)


def test_load_summary_section_and_custom_sections(demo_run: Path) -> None:
    (demo_run / "load_summary.json").write_text(
        json.dumps({"goodput_rps": 3.5, "series": [{"t": 0, "rps": 1.0}, {"t": 1, "rps": 2.0}]})
    )

    def extra(data: object, summary: object) -> list[Section]:
        return [Section("extra", "Extra <things>", "<p>hello</p>")]

    register_section(extra)
    try:
        html = render_html(load_report_data(demo_run))
    finally:
        _RENDERERS.remove(extra)
        (demo_run / "load_summary.json").unlink()
    scan = _Scan()
    scan.feed(html)
    assert scan.sections[-3:] == ["load", "extra", "conversations"]
    assert "goodput_rps" in html
    assert "Extra &lt;things&gt;" in html


def test_dataframes_and_exports(demo_run: Path, tmp_path: Path) -> None:
    data = load_report_data(demo_run)
    frames = to_dataframes(data)
    assert len(frames["episodes"]) == 16
    assert len(frames["questions"]) == 8
    assert len(frames["baseline"]) == 2 * 4 * 2
    assert set(frames["turns"]["role"]) == {"user", "assistant"}
    assert {"wall_s", "target_s", "follows_assistant"} <= set(frames["episodes"].columns)
    paths = export_tables(data, tmp_path / "csv")
    assert sorted(p.name for p in paths) == [
        "baseline.csv", "calls.csv", "episodes.csv", "questions.csv", "turns.csv",
    ]  # fmt: skip
    import pandas as pd

    export_tables(data, tmp_path / "pq", "parquet")
    back = pd.read_parquet(tmp_path / "pq" / "episodes.parquet")
    assert len(back) == 16


def test_missing_pandas_names_the_extra(demo_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependencyError, match=r"chatsim\[report\]"):
        to_dataframes(load_report_data(demo_run))


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match=r"no header\.json"):
        load_report_data(tmp_path)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("compare")(compare_command)
    return app


def test_cli_report_json_html_and_errors(demo_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["report", str(demo_run), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["models"][ALPHA]["accuracy"] is not None
    out = tmp_path / "r.html"
    result = runner.invoke(
        _app(), ["report", str(demo_run), "--html", str(out), "--csv", str(tmp_path / "t")]
    )
    assert result.exit_code == 0, result.output
    assert "User–AI accuracy" in result.stdout
    assert out.is_file()
    assert (tmp_path / "t" / "episodes.csv").is_file()
    bad = runner.invoke(_app(), ["report", str(tmp_path)])
    assert bad.exit_code == 2
    assert "not a chatsim run directory" in bad.stderr
    bad = runner.invoke(_app(), ["report", str(demo_run), "--interval", "wilson"])
    assert bad.exit_code == 2
    assert "unknown interval" in bad.stderr


def test_cli_compare(demo_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["compare", str(demo_run)])
    assert result.exit_code == 0, result.output
    assert "fake:alpha" in result.stdout
    assert "Paired differences" in result.stdout
    as_json = json.loads(runner.invoke(_app(), ["compare", str(demo_run), "--json"]).stdout)
    assert as_json["pairs"][0]["a"] == ALPHA
    assert as_json["pairs"][0]["verdict"]
    missing = runner.invoke(_app(), ["compare", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "not a directory" in missing.stderr
