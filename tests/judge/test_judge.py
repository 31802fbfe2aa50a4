"""Judge scoring: parsing, recording apart from accuracy, summary, CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from records_kit import assistant, episode, user
from typer.testing import CliRunner

from chatsim import PermanentError
from chatsim.cli._report import report_command
from chatsim.judge import (
    RUBRIC,
    RUBRIC_VERSION,
    JudgeRecord,
    judge_episodes,
    judge_summary,
    parse_scores,
    read_judge,
)
from chatsim.report import load_report_data, render_html, summarize_run
from chatsim.targets import (
    CallPolicy,
    TargetCaller,
    TargetRequest,
    register_adapter,
    unregister_adapter,
)
from chatsim.testing import FakeTarget

GOOD = '{"coherence": 4, "satisfaction": 5, "rationale": "Clear and helpful."}'


@pytest.mark.parametrize(
    ("text", "scores"),
    [
        (GOOD, (4, 5, "Clear and helpful.")),
        ("Sure! ```json\n" + GOOD + "\n```", (4, 5, "Clear and helpful.")),
        ('{"coherence": 6, "satisfaction": 5}', None),
        ('{"coherence": "x", "satisfaction": 5}', None),
        ("I'd give it a 4.", None),
    ],
)
def test_parse_scores(text: str, scores: tuple[int, int, str] | None) -> None:
    assert parse_scores(text) == scores


def _ep(qid: str, model: str = "m", repeat: int = 0) -> object:
    turns = [user(0, "What is 2+2?", 0, 1), assistant(1, "It is 4, so B.", 1, 2)]
    return episode(model, qid, repeat=repeat, turns=turns)


@pytest.mark.anyio
async def test_judge_episodes_records_scores_and_failures() -> None:
    seen: list[TargetRequest] = []

    def reply(request: TargetRequest) -> str:
        seen.append(request)
        return GOOD if len(seen) % 2 else "no scores here"  # every other reply is unusable

    target = FakeTarget(default=reply)
    eps = [_ep("q1"), _ep("q2")]
    written: list[JudgeRecord] = []
    records = await judge_episodes(eps, TargetCaller(target), "judge-x", written.append)  # type: ignore[arg-type]
    assert len(records) == len(written) == 2
    assert seen[0].messages[0].content == RUBRIC
    assert "USER: What is 2+2?" in seen[0].messages[1].content
    assert sorted(r.error is None for r in records) == [False, True]
    assert all(r.rubric_version == RUBRIC_VERSION for r in records)  # written, not defaulted
    again = await judge_episodes(eps, TargetCaller(target), "judge-x", done={"m|q1|0", "m|q2|0"})  # type: ignore[arg-type]
    assert again == []
    failing = TargetCaller(FakeTarget(default=PermanentError("nope")), CallPolicy(max_attempts=1))
    (failed,) = await judge_episodes([_ep("q3")], failing, "judge-x")  # type: ignore[list-item]
    assert failed.error == "nope"
    assert failed.coherence is None


def _rec(qid: str, c: int | None, s: int | None, model: str = "m") -> JudgeRecord:
    return JudgeRecord(episode_id=f"{model}|{qid}", model=model, question_id=qid, judge="j",
                       coherence=c, satisfaction=s, error=None if c else "x")  # fmt: skip


def test_judge_summary_hand_values() -> None:
    # q1: coherence 5 and 3 -> 4; q2: 2 -> mean over questions (4 + 2) / 2 = 3.
    records = [_rec("q1", 5, 4), _rec("q1", 3, 4), _rec("q2", 2, 1), _rec("q3", None, None)]
    (s,) = judge_summary(records)
    assert (s.scored, s.failed) == (3, 1)
    assert s.coherence == pytest.approx(3.0)
    assert s.satisfaction == pytest.approx(2.5)
    assert s.coherence_ci.low == pytest.approx(2.0)
    assert s.coherence_ci.high == pytest.approx(4.0)


@pytest.fixture
def judge_adapter() -> Iterator[None]:
    register_adapter("judgefake", lambda model, settings: FakeTarget(default=GOOD))
    yield
    unregister_adapter("judgefake")


def test_cli_judge_writes_judge_jsonl_apart_from_accuracy(
    demo_run: Path, judge_adapter: None, tmp_path: Path
) -> None:
    before = summarize_run(demo_run).model_dump()
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "judgefake:j1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["judge"][0]["coherence"] == 4.0
    assert "judged 16 episodes" in result.stderr
    records = read_judge(demo_run)
    assert len(records) == 16
    assert summarize_run(demo_run).model_dump() == before  # accuracy untouched
    # A second run skips what this judge already scored.
    again = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "judgefake:j1"])
    assert "judged 0 episodes" in again.stderr
    assert "Judge scores" in again.stdout
    html = render_html(load_report_data(demo_run))
    assert 'id="judge"' in html


@pytest.fixture
def flaky_judge() -> Iterator[FakeTarget]:
    """A judge that fails once on the way, answers once without scores, then scores."""
    failure = PermanentError("judge endpoint refused the request", status_code=400)
    judge = FakeTarget([failure, "I cannot score this."], default=GOOD)  # one, across runs
    register_adapter("flakyjudge", lambda model, settings: judge)
    yield judge
    unregister_adapter("flakyjudge")


def test_failed_judgements_are_retried_by_the_next_judge_run(
    demo_run: Path, flaky_judge: FakeTarget, tmp_path: Path
) -> None:
    demo_run = Path(shutil.copytree(demo_run, tmp_path / "run"))
    (demo_run / "judge.jsonl").unlink(missing_ok=True)  # another test's judge
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    first = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "flakyjudge:j"])
    assert "judged 16 episodes" in first.stderr
    assert sum(r.error is not None for r in read_judge(demo_run)) == 2
    second = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "flakyjudge:j"])
    assert "judged 1 episodes" in second.stderr  # the one that got no reply
    records = read_judge(demo_run)  # the latest record per episode wins
    assert len(records) == 16
    (unscored,) = [r for r in records if r.error is not None]
    assert unscored.raw == "I cannot score this."  # answered: not paid for again
    assert len((demo_run / "judge.jsonl").read_text().splitlines()) == 17


def test_a_judge_line_torn_by_a_crash_is_cut_before_the_next_run_appends(
    demo_run: Path, flaky_judge: FakeTarget, tmp_path: Path
) -> None:
    demo_run = Path(shutil.copytree(demo_run, tmp_path / "run"))
    (demo_run / "judge.jsonl").write_text('{"episode_id": "fake:alpha|college_ma')  # died here
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "flakyjudge:j"])
    assert result.exit_code == 0, result.output
    assert len(read_judge(demo_run)) == 16  # every line complete and readable


def test_an_episode_re_run_since_its_judgement_is_judged_again(
    demo_run: Path, flaky_judge: FakeTarget, tmp_path: Path
) -> None:
    demo_run = Path(shutil.copytree(demo_run, tmp_path / "run"))
    (demo_run / "judge.jsonl").unlink(missing_ok=True)
    flaky_judge._script.clear()  # a judge that always scores
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    first = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "flakyjudge:j"])
    assert "judged 16 episodes" in first.stderr
    # --retry-errors re-ran one episode: a newer record of it is appended (latest wins).
    episodes = (demo_run / "episodes.jsonl").read_text().splitlines()
    rerun = json.loads(episodes[0])
    rerun["ended_at"] += 100.0
    with (demo_run / "episodes.jsonl").open("a") as fh:
        fh.write(json.dumps(rerun) + "\n")
    assert len(load_report_data(demo_run).judge) == 15  # the old judgement is out of date
    second = CliRunner().invoke(app, ["report", str(demo_run), "--judge", "flakyjudge:j"])
    assert "judged 1 episodes" in second.stderr
    judged = load_report_data(demo_run).judge
    assert len(judged) == 16
    (fresh,) = [r for r in judged if r.episode_id == rerun["episode_id"]]
    assert fresh.episode_ended_at == rerun["ended_at"]
