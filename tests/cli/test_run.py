"""``chatsim run`` end to end with in-process parts, and its errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_kit import fake_run_args
from typer.testing import CliRunner

from chatsim.cli import app
from chatsim.recording import read_run
from chatsim.testing import FakeTarget


def _run(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["run", *args])
    return result.exit_code, result.output


def test_run_writes_a_run_directory_and_prints_a_summary(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    code, output = _run(
        cli,
        "--model",
        "fake:a",
        "--model",
        "fake:b",
        "--simulator",
        "scripted",
        "--subset",
        "college_math",
        "--limit",
        "4",
        "--repeats",
        "2",
        "--out",
        str(tmp_path),
        "--run-id",
        "r1",
        "--quiet",
    )
    assert code == 0, output
    data = read_run(tmp_path / "r1")
    assert len(data.episodes) == 4 * 2 * 2
    assert {e.model for e in data.episodes} == {"fake:a", "fake:b"}
    # Paired design: both models saw the same questions with the same simulator seeds.
    seeds = {(e.question_id, e.repeat): set() for e in data.episodes}
    for e in data.episodes:
        seeds[(e.question_id, e.repeat)].add(e.seed)
    assert all(len(s) == 1 for s in seeds.values())
    assert (tmp_path / "r1" / "summary.json").is_file()
    assert "fake:a" in output and "fake:b" in output
    assert all(t.closed for t in fake_adapter)


def test_report_recomputes_the_summary(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    _run(
        cli,
        *fake_run_args(tmp_path, limit=3),
    )
    result = cli.invoke(app, ["report", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    stored = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["models"]["fake:a"]["accuracy"] == stored["models"]["fake:a"]["accuracy"]


def test_dry_run_sends_nothing(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    code, output = _run(
        cli,
        "--model",
        "fake:a",
        "--simulator",
        "scripted",
        "--subset",
        "college_math",
        "--limit",
        "1",
        "--out",
        str(tmp_path),
        "--dry-run",
    )
    assert code == 0, output
    assert "simulator prompt" in output and "first target request" in output
    assert "You are a helpful AI assistant." in output
    assert fake_adapter[0].requests == []
    assert not any(tmp_path.iterdir())


def test_resume_runs_only_missing_episodes(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    args = (*fake_run_args(tmp_path, limit=5),)
    assert _run(cli, *args)[0] == 0
    episodes = tmp_path / "r" / "episodes.jsonl"
    lines = episodes.read_text().splitlines(keepends=True)
    episodes.write_text("".join(lines[:2]) + lines[2][:30])  # lost two, tore one
    code, output = _run(cli, "--resume", str(tmp_path / "r"), "--quiet")
    assert code == 0, output
    data = read_run(tmp_path / "r")
    assert len(data.episodes) == 5 and data.duplicates == 0 and not data.torn_tail
    assert len(fake_adapter[-1].requests) > 0


def test_resume_refuses_a_different_configuration(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    _run(
        cli,
        *fake_run_args(tmp_path, limit=2),
    )
    code, output = _run(cli, "--resume", str(tmp_path / "r"), "--repeats", "3")
    assert code == 2
    assert "repeats" in output and "differs" in output


def test_bad_input_fails_clearly(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    cases = [
        (["--simulator", "scripted"], "no model given"),
        (["--model", "fake:a", "--simulator", "scripted", "--subset", "astrology_101"], "valid"),
        (["--model", "nosuch:x", "--simulator", "scripted"], "unknown adapter 'nosuch'"),
        (["--model", "fake:a", "--simulator", "warp:drive"], "unknown simulator"),
        (
            ["--model", "fake:a", "--simulator", "scripted", "--subset", str(tmp_path / "q.csv")],
            "q.csv",
        ),
        (["--resume", str(tmp_path)], "not a chatsim run directory"),
        (["--model", "fake:a", "--simulator", "scripted", "--repeats", "0"], "repeats"),
        (["--model", "fake:a", "--simulator", "scripted", "--policy", "warp=9"], "valid fields"),
        (["--model", "fake:a", "--simulator", "scripted", "--policy", "oops"], "KEY=VALUE"),
        (["--model", "fake:a", "--simulator", "scripted", "--max-attempts", "0"], "max_attempts"),
        (["--model", "fake:a", "--simulator", "scripted", "--log-level", "loud"], "log level"),
    ]
    for args, message in cases:
        code, output = _run(cli, *args, "--out", str(tmp_path / "out"))
        assert code == 2, (args, output)
        assert message in output, (args, output)
        assert "Traceback" not in output
    assert not (tmp_path / "out").exists()


def test_baseline_measures_each_model_alone(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    code, output = _run(
        cli,
        *fake_run_args(tmp_path, limit=3),
        "--baseline",
    )
    assert code == 0, output
    lines = (tmp_path / "r" / "baseline.jsonl").read_text().splitlines()
    assert len(lines) == 3 * 3  # questions x modes
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["baseline"], "the summary shows AI-alone next to user-AI accuracy"
    # Resuming a finished run with the baseline adds nothing twice.
    assert _run(cli, "--resume", str(tmp_path / "r"), "--quiet")[0] == 0
    assert len((tmp_path / "r" / "baseline.jsonl").read_text().splitlines()) == 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,A,B,C\nq,1,2,3\n", "missing"),
        ("question,A,B,C,D,answer\nq,1,2,3,4,E\n", "row"),
        ("question,A,B,C,D,answer\n", "no"),
        ("", "empty"),
    ],
)
def test_bad_question_files(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "questions.csv"
    path.write_text(content)
    code, output = _run(
        cli,
        "--model",
        "fake:a",
        "--simulator",
        "scripted",
        "--subset",
        str(path),
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 2, output
    assert "questions.csv" in output and message in output.lower(), output
    assert not (tmp_path / "out").exists()


def test_own_question_file_runs(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"id": "m1", "question": "2+2?", "A": "3", "B": "4", "C": "5", "D": "6", "answer": "B"}\n'
    )
    code, output = _run(
        cli,
        "--model",
        "fake:a",
        "--simulator",
        "scripted",
        "--subset",
        str(path),
        "--out",
        str(tmp_path),
        "--run-id",
        "r",
        "--quiet",
    )
    assert code == 0, output
    (episode,) = read_run(tmp_path / "r").episodes
    assert episode.question_id == "m1" and episode.gold == "B"


def test_resume_of_a_half_written_header_is_refused(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "header.json").write_text('{"schema_version": 1, "run_id": "r", "crea')
    (run_dir / "episodes.jsonl").write_text("")
    code, output = _run(cli, "--resume", str(run_dir))
    assert code == 2
    assert "damaged" in output and "new run" in output
    assert (run_dir / "episodes.jsonl").read_text() == ""


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("gpt-4o", "OPENAI_API_KEY"),
        ("azure:my-deployment", "AZURE_OPENAI_ENDPOINT"),
        ("vllm:llama", "CHATSIM_VLLM_BASE_URL"),
    ],
)
def test_missing_credentials_fail_before_anything_naming_the_variable(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, variable: str
) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "CHATSIM_VLLM_BASE_URL",
        "VLLM_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    code, output = _run(
        cli,
        "--model",
        model,
        "--simulator",
        "scripted",
        "--subset",
        "college_math",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 2, output
    assert variable in output
    # ... and how to try chatsim with no key at all: the README's two demo commands.
    assert "python -m chatsim.testing.server --port 8000 --demo" in output
    assert "--simulator prompted:vllm:demo" in output
    assert not (tmp_path / "out").exists()


def test_target_options_reach_the_config_and_bad_ones_fail_clearly(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    code, _ = _run(cli, *fake_run_args(tmp_path), "--target-option", "transport=sdk")
    assert code == 0
    assert read_run(tmp_path / "r").header.config.target_options == {"transport": "sdk"}
    code, output = _run(cli, *fake_run_args(tmp_path, run_id="s"), "--target-option", "sdk")
    assert code == 2 and "--target-option" in output and "KEY=VALUE" in output
