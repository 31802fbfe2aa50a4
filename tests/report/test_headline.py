"""Issue 15: the HTML report opens with what to know before any figure: a failed run's
verdict, which simulator played the user and why, and the cost split into targets, simulator
and total; the same lines the terminal prints (checked by parsing the HTML)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from records_kit import assistant, attempt, episode, user
from typer.testing import CliRunner

from chatsim.cli import app
from chatsim.config import RunConfig
from chatsim.metrics._render import cost_line, failure_lines, simulator_line
from chatsim.metrics._table import cost_total_cell
from chatsim.protocol import TerminationReason
from chatsim.recording import (
    EpisodeRecord,
    JsonlWriter,
    RunHeader,
    SimulatorChoice,
    TurnRecord,
    Usage,
    create_run_dir,
)
from chatsim.report import summarize_run

CHOICE = SimulatorChoice(
    spec="prompted:gpt-4o", source="default",
    reason="no CUDA GPU found for the ChatBench LoRA, so the first target plays the user",
)  # fmt: skip


class _Sections(HTMLParser):
    """Section ids in page order, each section's text, and its lines (p and li elements)."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.text: dict[str, str] = {}
        self.lines: dict[str, list[str]] = {}
        self.cells: dict[str, list[str]] = {}
        self.classes: dict[str, list[str]] = {}
        self._section: str | None = None
        self._line: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = str(a["id"])
            self.order.append(self._section)
            self.text[self._section] = ""
        elif self._section is None:
            return
        if tag in ("p", "li"):
            self._line = []
        elif tag in ("td", "th"):
            self._cell = []
        if a.get("class"):
            self.classes.setdefault(self._section, []).append(str(a["class"]))

    def handle_endtag(self, tag: str) -> None:
        if self._section is None:
            return
        if tag in ("p", "li") and self._line is not None:
            self.lines.setdefault(self._section, []).append("".join(self._line))
            self._line = None
        elif tag in ("td", "th") and self._cell is not None:
            self.cells.setdefault(self._section, []).append("".join(self._cell))
            self._cell = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._section is None:
            return
        self.text[self._section] += data
        for part in (self._line, self._cell):
            if part is not None:
                part.append(data)


def _user_turn(index: int) -> TurnRecord:
    usage = Usage(prompt_tokens=900, completion_tokens=40)
    return user(index, "Can you help?", 0.0, 0.1, usage=usage)


def _failed(qid: str) -> EpisodeRecord:
    message = "azure answered HTTP 404 at https://x.example/ (deployment d)"
    attempts = [attempt(0, 1.0, 1.1, "permanent", status_code=404, error_class="PermanentError",
                        error_message=message)]  # fmt: skip
    turns = [_user_turn(0), assistant(1, "", 1.0, 1.1, attempts=attempts)]
    ep = episode("gpt-4o", qid, termination=TerminationReason.TARGET_ERROR, turns=turns)
    return ep.model_copy(update={"simulator": CHOICE.spec, "error": "HTTP 404 (deployment d)"})


def _answered(qid: str) -> EpisodeRecord:
    turns = [_user_turn(0), assistant(1, "The answer is A.", 1.0, 1.5, usage=(1200, 80))]
    ep = episode("gpt-4o", qid, turns=turns)
    return ep.model_copy(update={"simulator": CHOICE.spec})


def _write(path: Path, episodes: list[EpisodeRecord]) -> Path:
    config = RunConfig(models=("gpt-4o",), simulator=CHOICE.spec)
    header = RunHeader(
        run_id=path.name, created_at=0.0, config=config, versions={"chatsim": "0"}, seed=0,
        planned_episodes=len(episodes), simulator_choice=CHOICE,
    )  # fmt: skip
    create_run_dir(path, header)
    with JsonlWriter(path / "episodes.jsonl") as writer:
        for ep in episodes:
            writer.append(ep)
    return path


def _report(cli: CliRunner, run_dir: Path, tmp_path: Path) -> _Sections:
    out = tmp_path / f"{run_dir.name}.html"
    result = cli.invoke(app, ["report", str(run_dir), "--html", str(out)])
    assert result.exit_code == 0, result.output
    scan = _Sections()
    scan.feed(out.read_text(encoding="utf-8"))
    return scan


def test_a_failed_run_s_report_opens_with_its_verdict_simulator_and_cost(tmp_path: Path) -> None:
    run_dir = _write(tmp_path / "failed", [_failed("q1"), _failed("q2"), _answered("q3")])
    summary = summarize_run(run_dir)
    assert summary.failure is not None  # 2 of 3 ended in errors: over the 20% share
    scan = _report(CliRunner(), run_dir, tmp_path)

    assert scan.order[0] == "headline"  # before the run's facts and every figure
    lines = scan.lines["headline"]
    verdict, *kinds = failure_lines(summary)
    assert lines[0] == verdict
    assert verdict.startswith("✗ run failed: 2 of 3 episodes ended in errors")
    assert [k.strip() for k in kinds] == lines[1 : 1 + len(kinds)]
    assert "target_error: PermanentError, HTTP 404" in lines[1]
    assert "failure" in scan.classes["headline"]
    assert "Run failed" in scan.text["headline"]
    # Then the simulator and why, then the cost, as the terminal says them.
    rest = lines[1 + len(kinds) :]
    assert rest[0] == simulator_line(summary)
    assert rest[0] == f"simulator: prompted:gpt-4o ({CHOICE.reason})"
    assert rest[1] == cost_line(summary)


def test_a_passing_run_s_report_opens_with_the_simulator_and_the_cost_split(
    tmp_path: Path,
) -> None:
    run_dir = _write(tmp_path / "passed", [_answered("q1"), _answered("q2")])
    summary = summarize_run(run_dir)
    assert summary.failure is None
    scan = _report(CliRunner(), run_dir, tmp_path)

    assert scan.order[0] == "headline"
    assert "failure" not in scan.classes.get("headline", [])
    assert scan.lines["headline"] == [simulator_line(summary), cost_line(summary)]
    # The split: targets, simulator (the prompted gpt-4o is billed too) and total.
    cells = scan.cells["headline"]
    c = summary.cost
    assert c.simulator.prompt_tokens == 1800 and c.target.prompt_tokens == 2400
    assert c.simulator.cost is not None and c.target.cost is not None
    for label, total in (("targets", c.target), ("simulator", c.simulator), ("total", c.total)):
        row = cells[cells.index(label) : cells.index(label) + 4]
        assert row[1:3] == [str(total.prompt_tokens), str(total.completion_tokens)]
        assert row[3] == cost_total_cell(total) and row[3].endswith(" USD")
    assert c.total.cost == c.target.cost + c.simulator.cost
