"""Issue 15: ``chatsim run`` says which simulator plays the user and why, counts its tokens and
cost beside the target's, and fails (exit 4) a run whose episodes mostly ended in errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_kit import fake_run_args
from typer.testing import CliRunner

from chatsim._exceptions import PermanentError
from chatsim.cli import app
from chatsim.cli._errors import EXIT_CODES, EXIT_RUN_FAILED
from chatsim.recording import read_header, read_run
from chatsim.simulators import _registry
from chatsim.targets import TargetRequest, TargetSettings
from chatsim.testing import FakeTarget, registered_adapter


def _run(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["run", *args])
    return result.exit_code, result.output


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same answer on every machine: no CUDA GPU, as on CI."""
    monkeypatch.setattr(_registry, "_no_cuda_reason", lambda: "no CUDA GPU found")


def test_the_default_simulator_is_named_with_its_reason_first(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path, no_gpu: None
) -> None:
    args = fake_run_args(tmp_path, limit=2)
    args.remove("--simulator")
    args.remove("scripted")
    code, output = _run(cli, *args, "--max-turns", "1")
    assert code == 0, output
    first = output.splitlines()[0]
    assert first.startswith("simulator: prompted:fake:a (no CUDA GPU found for the default ")
    assert "hf:microsoft/chatbench-mistral-7b" in first and "pass --simulator" in output
    choice = read_header(tmp_path / "r").simulator_choice
    assert choice is not None and choice.spec == "prompted:fake:a" and choice.source == "default"
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["simulator_choice"]["reason"] == choice.reason
    # The simulator (the target playing its user) made calls with tokens: counted, unpriced.
    sim = summary["models"]["fake:a"]["simulator_cost"]
    assert sim["prompt_tokens"] > 0 and sim["cost"] is None and sim["price_entry"] is None
    assert summary["cost"]["simulator"]["prompt_tokens"] == sim["prompt_tokens"]
    assert "estimated cost: targets unpriced + simulator unpriced = unpriced" in output


def test_a_given_simulator_is_named_as_given_and_a_resume_keeps_the_choice(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    code, output = _run(cli, *fake_run_args(tmp_path, limit=2))
    assert code == 0, output
    assert output.splitlines()[0] == "simulator: scripted (given with --simulator)"
    code, output = _run(cli, "--resume", str(tmp_path / "r"), "--quiet")
    assert code == 0, output
    assert output.splitlines()[0] == "simulator: scripted (given with --simulator)"
    assert "simulator: scripted (given with --simulator)" in output  # the summary says it too


@pytest.fixture
def failing_adapter() -> Iterator[dict[str, int]]:
    """``broken:<model>``: its first ``fail`` calls fail with a 404 (no retry helps)."""
    state = {"fail": 10_000, "calls": 0}

    def factory(model: str, settings: TargetSettings) -> FakeTarget:
        def reply(request: TargetRequest) -> str:
            state["calls"] += 1
            if state["calls"] <= state["fail"]:
                raise PermanentError(f"deployment {model} not found", status_code=404)
            return "The answer is B."

        return FakeTarget(default=reply)

    with registered_adapter("broken", factory):
        yield state


def _broken_args(tmp_path: Path, limit: int, *extra: str) -> list[str]:
    args = fake_run_args(tmp_path, limit=limit)
    args[args.index("fake:a")] = "broken:m"
    return [*args, *extra]


def test_a_run_whose_every_episode_failed_exits_4_and_says_so_first(
    cli: CliRunner, failing_adapter: dict[str, int], tmp_path: Path
) -> None:
    code, output = _run(cli, *_broken_args(tmp_path, 3))
    assert code == EXIT_RUN_FAILED == 4, output
    lines = output.splitlines()
    assert lines[0] == "simulator: scripted (given with --simulator)"
    assert lines[1].startswith("✗ run failed: 3 of 3 episodes ended in errors (every one)")
    assert "target_error: PermanentError, HTTP 404 × 3" in lines[2]
    assert "deployment m not found" in lines[2]
    assert "--resume" in output and "--retry-errors" in output
    run_dir = tmp_path / "r"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(summary)[:2] == ["summary_version", "failure"]  # read first in the JSON too
    failure = summary["failure"]
    assert failure["models"] == ["broken:m"] and failure["error_episodes"] == 3
    assert failure["kinds"][0]["kind"] == "target_error: PermanentError, HTTP 404"
    # Complete and resumable: once the deployment answers, retrying the errors passes.
    assert len(read_run(run_dir).episodes) == 3
    failing_adapter["fail"] = 0
    code, output = _run(cli, "--resume", str(run_dir), "--retry-errors", "--quiet")
    assert code == 0, output
    assert json.loads((run_dir / "summary.json").read_text())["failure"] is None


def test_the_error_share_threshold_is_the_users(
    cli: CliRunner, failing_adapter: dict[str, int], tmp_path: Path
) -> None:
    failing_adapter["fail"] = 1  # one episode of five: 20%, not above the default
    code, output = _run(cli, *_broken_args(tmp_path, 5))
    assert code == 0, output
    assert "run failed" not in output
    failing_adapter.update(fail=1, calls=0)
    code, output = _run(cli, *_broken_args(tmp_path / "strict", 5, "--max-error-share", "0.1"))
    assert code == EXIT_RUN_FAILED, output
    assert "1 of 5 episodes ended in errors (broken:m 1/5)" in output and "above 10%" in output
    code, output = _run(cli, *_broken_args(tmp_path / "bad", 5, "--max-error-share", "1.5"))
    assert code == 2 and "--max-error-share" in output


def test_one_model_failing_fails_the_run_even_when_the_other_passes(
    cli: CliRunner,
    fake_adapter: list[FakeTarget],
    failing_adapter: dict[str, int],
    tmp_path: Path,
) -> None:
    code, output = _run(cli, *_broken_args(tmp_path, 3, "--model", "fake:a"))
    assert code == EXIT_RUN_FAILED, output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["failure"]["models"] == ["broken:m"]
    assert summary["failure"]["episodes"] == 3  # the failing model's episodes


def test_the_help_lists_every_exit_code(cli: CliRunner) -> None:
    result = cli.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert "--max-error-share" in text
    for code in EXIT_CODES:
        assert f"{code} " in text.split("Exit codes:")[1], code
