"""What ``chatsim report`` gets from a load test: terminal tables, HTML section, figures."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from rich.console import Console

from chatsim.loadtest import load_summary_figures, load_test_sections, loadtest, render_load_summary
from chatsim.report import load_report_data, summarize_run
from chatsim.testing import FakeTarget, ScriptedSimulator

from .helpers import answer_after

pytestmark = pytest.mark.anyio


@pytest.fixture
async def run_dir(tmp_path: Path) -> Path:
    result = await loadtest(
        "fake:m", adapter=FakeTarget(delay=0.01), simulator=ScriptedSimulator(answer_after(1)),
        arrival="constant", sweep=[20, 40], duration=0.25, slo_e2e_p95=0.005,
        out_dir=tmp_path, bucket=0.05,
    )  # fmt: skip
    return result.run_dir


async def test_terminal_rendering_names_the_saturation_point(run_dir: Path) -> None:
    data = load_report_data(run_dir)
    assert data.load_summary is not None
    console = Console(record=True, width=120)
    render_load_summary(data.load_summary, console)
    text = console.export_text()
    # 10 ms replies against a 5 ms objective: broken from the first stage.
    assert "objectives broken already at the lowest load, 20 conversations/s" in text
    assert "end-to-end p95" in text and "broken" in text


async def test_html_section_and_figures(run_dir: Path) -> None:
    data = load_report_data(run_dir)
    assert data.load_summary is not None
    (section,) = load_test_sections(data, summarize_run(data))
    assert section.id == "load" and section.title == "Load test"
    assert "objectives broken already at the lowest load" in section.html
    assert section.html.count('class="figure"') == 3  # throughput, latency, sweep
    titles = [fig.layout.title.text for fig in load_summary_figures(data.load_summary)]
    assert titles[0].startswith("Throughput") and titles[2].startswith("Sweep")


async def test_the_report_alone_finds_the_load_test_section(run_dir: Path, tmp_path: Path) -> None:
    # A fresh interpreter that imports only chatsim.report: the entry point brings the section.
    out = tmp_path / "report.html"
    code = (
        "import sys, chatsim.report as r;"
        "before = 'chatsim.loadtest' in sys.modules;"
        f"r.write_html_report({str(run_dir)!r}, {str(out)!r});"
        "print(before)"
    )
    done = await anyio.run_process([sys.executable, "-c", code], check=True)
    assert done.stdout.decode().strip() == "False"
    html = out.read_text(encoding="utf-8")
    assert html.count('<section id="load">') == 1  # the load test's, not also the generic one
    assert "objectives broken already at the lowest load" in html
