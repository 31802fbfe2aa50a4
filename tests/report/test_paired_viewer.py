"""The HTML report's paired comparison, the complete conversation viewer, and compare's
refusal, override and HTML, all checked by parsing the output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from records_kit import assistant, attempt, episode, outcomes, user
from run_kit import write_run
from typer.testing import CliRunner

from chatsim.cli._compare import compare_command
from chatsim.cli._report import report_command
from chatsim.metrics import compare
from chatsim.protocol import TerminationReason
from chatsim.recording import EpisodeRecord, read_run
from chatsim.report import decode_viewer_data, load_report_data, render_html
from chatsim.report._viewer import viewer_js


class _Report(HTMLParser):
    """Sections (id -> text), the text of each list item per section, and scripts by id."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.items: dict[str, list[str]] = {}
        self.scripts: dict[str, str] = {}
        self.classes: dict[str, list[str]] = {}
        self._section: str | None = None
        self._li: list[str] | None = None
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = str(a.get("id"))
            self.sections[self._section] = ""
        elif tag == "li":
            self._li = []
        elif tag == "script":
            self._script = str(a.get("id") or "")
        if self._section is not None and a.get("class"):
            self.classes.setdefault(self._section, []).append(str(a["class"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._li is not None and self._section is not None:
            self.items.setdefault(self._section, []).append("".join(self._li))
            self._li = None
        elif tag == "script":
            self._script = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            if self._script:
                self.scripts[self._script] = self.scripts.get(self._script, "") + data
            return
        if self._section is not None:
            self.sections[self._section] += data
        if self._li is not None:
            self._li.append(data)


def _parse(html: str) -> _Report:
    scan = _Report()
    scan.feed(html)
    return scan


def test_run_with_two_models_has_the_paired_comparison(demo_run: Path) -> None:
    scan = _parse(render_html(load_report_data(demo_run)))
    assert list(scan.sections)[:4] == ["headline", "overview", "accuracy", "paired"]
    # The same verdicts as chatsim compare (same functions, same settings), in words.
    expected = [p.verdict for p in compare([read_run(demo_run)]).pairs]
    assert scan.items["paired"] == expected
    assert expected[0].startswith(("fake:alpha beats", "fake:beta beats", "No clear"))
    text = scan.sections["paired"]
    assert "a − b" in text and "p" in text
    assert "plotly-graph-div" in " ".join(scan.classes["paired"])  # the interval plot
    assert "warning" not in " ".join(scan.classes["paired"])  # one run: nothing differs


def test_run_with_one_model_has_no_paired_section(tmp_path: Path) -> None:
    path = write_run(tmp_path / "one", outcomes("A", {"q1": [1], "q2": [0]}))
    scan = _parse(render_html(load_report_data(path)))
    assert "paired" not in scan.sections
    assert "conversations" in scan.sections


def _failed_episode() -> list[EpisodeRecord]:
    attempts = [
        attempt(0, 1.0, 1.1, "transient", status_code=502, error_class="TransientError",
                error_message="502 bad gateway", wait_before_next=0.5),
        attempt(1, 1.6, 1.7, "rate_limit", status_code=429, error_class="RateLimitError",
                error_message="slow down", wait_before_next=2.0),
        attempt(2, 3.7, 3.8, "permanent", status_code=404, error_class="PermanentError",
                error_message="azure answered HTTP 404 at https://x.example/ (deployment d)"),
    ]  # fmt: skip
    turns = [user(0, "hi <b>there</b>", 0.0, 0.5), assistant(1, "", 1.0, 3.8, attempts=attempts)]
    ep = episode("A", "failed", termination=TerminationReason.TARGET_ERROR, turns=turns, start=5.0)
    return [ep.model_copy(update={"error": "azure answered HTTP 404 (deployment d)"})]


def test_viewer_holds_every_episode_and_every_failed_attempt(tmp_path: Path) -> None:
    many = outcomes("A", {f"q{i}": [1, 0, 1] for i in range(150)})  # 450 > the old cap of 200
    path = write_run(tmp_path / "big", many + _failed_episode())
    scan = _parse(render_html(load_report_data(path)))
    data = decode_viewer_data(scan.scripts["cv-data"])
    assert data["version"] == 1
    assert len(data["episodes"]) == 451
    keys = {(e[1], e[2]) for e in data["episodes"]}
    assert keys == {(ep.question_id, ep.repeat) for ep in read_run(path).episodes}
    (failed,) = [e for e in data["episodes"] if e[7] == "error"]
    failures = failed[9]
    assert [(f[2], f[3], f[4], f[6]) for f in failures] == [
        (0, "transient", 502, "502 bad gateway"),
        (1, "rate_limit", 429, "slow down"),
        (2, "permanent", 404, "azure answered HTTP 404 at https://x.example/ (deployment d)"),
    ]
    assert failed[10] == "azure answered HTTP 404 (deployment d)"
    assert failed[8][0][1] == "hi <b>there</b>"  # kept as text; the page sets textContent
    assert "<b>there</b>" not in scan.sections["conversations"]


_DOM_SHIM = r"""
const elements = {};
function makeEl(tag) {
  const e = {tag, children: [], dataset: {}, className: '', value: '', open: false, listeners: {},
    _text: '',
    get textContent() { return this._text + this.children.map(c => c.textContent).join(''); },
    set textContent(v) { this._text = String(v); this.children = []; },
    appendChild(c) { this.children.push(c); return c; },
    replaceChildren() { this.children = []; },
    addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); },
    fire(type) { (this.listeners[type] || []).forEach(fn => fn()); },
  };
  return e;
}
globalThis.window = globalThis;
globalThis.document = {
  getElementById: id => elements[id] || (elements[id] = makeEl('div')),
  createElement: makeEl,
  createTextNode: t => ({get textContent() { return t; }, children: []}),
};
elements['cv-data'] = makeEl('script');
elements['cv-data'].textContent = require('fs').readFileSync(process.argv[2], 'utf8');
elements['cv-list'] = makeEl('div');
elements['cv-list'].dataset.page = '50';
"""

_DRIVER = r"""
(async () => {
  await window.chatsimViewer;
  const $ = id => elements[id], out = [];
  const snap = () => out.push({status: $('cv-status').textContent,
    shown: $('cv-list').children.map(d => d.children[0].textContent),
    open: $('cv-list').children.filter(d => d.open).length,
    texts: $('cv-list').children.map(d => d.textContent)});
  snap();
  $('cv-next').fire('click'); snap();
  $('cv-outcome').value = 'error'; $('cv-outcome').fire('change'); snap();
  $('cv-outcome').value = ''; $('cv-question').value = 'q14'; $('cv-question').fire('input');
  snap();
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the viewer script")
def test_viewer_script_pages_and_filters_every_episode(tmp_path: Path) -> None:
    many = outcomes("A", {f"q{i}": [1, 0, 1] for i in range(40)})  # 120 episodes
    path = write_run(tmp_path / "run", many + _failed_episode())
    scan = _parse(render_html(load_report_data(path)))
    (tmp_path / "data.txt").write_text(scan.scripts["cv-data"])
    script = tmp_path / "viewer.js"
    script.write_text(_DOM_SHIM + viewer_js() + _DRIVER)
    done = subprocess.run(
        ["node", str(script), str(tmp_path / "data.txt")], capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    first, second, errors, by_id = json.loads(done.stdout)
    assert first["status"] == "121 of 121 episodes match · page 1 of 3"
    assert len(first["shown"]) == 50 and first["open"] == 2
    assert second["status"].endswith("page 2 of 3") and len(second["shown"]) == 50
    assert errors["status"] == "1 of 121 episodes match · page 1 of 1"
    (text,) = errors["texts"]
    order = [text.index(s) for s in ("502 bad gateway", "slow down", "HTTP 404 at https")]
    assert order == sorted(order)  # every failed attempt, in order
    assert "ended by: azure answered HTTP 404 (deployment d)" in text
    assert "hi <b>there</b>" in text  # as text, never markup
    assert by_id["status"].startswith("3 of 121") and all("q14" in s for s in by_id["shown"])


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("compare")(compare_command)
    app.command("other")(lambda: None)
    return app


def _two_runs(tmp_path: Path) -> tuple[Path, Path]:
    spec = {f"q{i}": [1, 1] for i in range(12)}
    a = write_run(tmp_path / "A", outcomes("A", spec), repeats=2)
    worse = {f"q{i}": [i % 2, i % 2] for i in range(12)}
    b = write_run(tmp_path / "B", outcomes("B", worse), repeats=2, max_turns=4,
                  simulator_temperature=0.7)  # fmt: skip
    return a, b


def test_cli_compare_refuses_different_set_ups_naming_each(tmp_path: Path) -> None:
    a, b = _two_runs(tmp_path)
    result = CliRunner().invoke(_app(), ["compare", str(a), str(b)])
    assert result.exit_code == 2
    err = " ".join(result.stderr.split())
    assert "not comparable" in err
    assert "simulator_temperature: 1.0 (A) vs 0.7 (B)" in err
    assert "max_turns: 10 (A) vs 4 (B)" in err
    assert "--allow-different simulator_temperature --allow-different max_turns" in err
    assert result.stdout == ""  # no verdict at all
    bad = CliRunner().invoke(_app(), ["compare", str(a), str(b), "--allow-different", "turns"])
    assert bad.exit_code == 2
    assert "unknown field(s) to allow: turns" in bad.stderr


def test_cli_compare_override_prints_differences_above_the_verdict(tmp_path: Path) -> None:
    a, b = _two_runs(tmp_path)
    args = ["compare", str(a), str(b), "--allow-different", "max_turns",
            "--allow-different", "simulator_temperature"]  # fmt: skip
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("max_turns: 10 (A) vs 4 (B)") < out.index("Accuracy") < out.index("• A ")
    assert "simulator_temperature: 1.0 (A) vs 0.7 (B)" in out
    as_json = json.loads(CliRunner().invoke(_app(), [*args, "--json"]).stdout)
    assert [d["field"] for d in as_json["differences"]] == ["simulator_temperature", "max_turns"]
    assert as_json["runs"] == ["A", "B"]
    assert as_json["pairs"][0]["paired_episodes"] == 24
    page = tmp_path / "c.html"
    written = CliRunner().invoke(_app(), [*args, "--html", str(page)])
    assert written.exit_code == 0, written.output
    scan = _parse(page.read_text())
    assert list(scan.sections) == ["overview", "paired", "accuracy", "latency"]
    paired = scan.sections["paired"]
    assert "These runs differ in their set-up" in paired
    verdict = next(v for v in scan.items["paired"] if v.startswith(("A beats", "No clear")))
    assert paired.index("max_turns") < paired.index(verdict)
    assert "max_turns: 10 (A) vs 4 (B)" in scan.items["overview"]


def test_cli_compare_of_comparable_runs_shows_no_differences(tmp_path: Path) -> None:
    a = write_run(tmp_path / "A", outcomes("A", {f"q{i}": [1] for i in range(12)}))
    b = write_run(tmp_path / "B", outcomes("B", {f"q{i}": [0] for i in range(12)}))
    result = CliRunner().invoke(_app(), ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "differ in their set-up" not in result.stdout
    assert re.search(r"• A beats B by 100 points", result.stdout)


def test_cli_report_gives_the_paired_comparison_too(demo_run: Path) -> None:
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    expected = compare([read_run(demo_run)])
    as_json = json.loads(CliRunner().invoke(app, ["report", str(demo_run), "--json"]).stdout)
    assert [p["verdict"] for p in as_json["paired"]["pairs"]] == [p.verdict for p in expected.pairs]
    text = CliRunner().invoke(app, ["report", str(demo_run)]).stdout
    flat = " ".join(text.split())  # the terminal wraps long lines
    assert all(f"• {' '.join(p.verdict.split())}" in flat for p in expected.pairs)
