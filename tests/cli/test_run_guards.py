"""Guards found in review: keys never travel to another host, bad settings fail up front,
a failed run can be retried, and a resume must select the same questions."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatsim import PermanentError
from chatsim.cli import app
from chatsim.recording import read_run
from chatsim.runner import RunConfig, prepare_run
from chatsim.targets import TargetRequest, TargetSettings, register_adapter, unregister_adapter
from chatsim.testing import FakeTarget


def _run(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["run", *args])
    return result.exit_code, result.output


def test_the_generic_base_url_never_redirects_hosted_providers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    config = RunConfig(
        models=("gpt-4o", "vllm:llama"),
        base_url="http://127.0.0.1:9/v1",
        simulator="scripted",
        source="college_math",
        limit=1,
    )
    setup = prepare_run(config, out_dir=tmp_path)
    request = TargetRequest(messages=())
    assert (
        setup.callers["vllm:llama"]
        .adapter.describe_request(request)["url"]
        .startswith("http://127.0.0.1:9/v1")
    )
    assert "api.openai.com" in setup.callers["gpt-4o"].adapter.describe_request(request)["url"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "fake:a", "--model", "fake:a"], "repeated: fake:a"),
        (["--model", "fake:a", "--episode-timeout", "-5"], "--episode-timeout"),
        (["--model", "fake:a", "--max-tokens", "0"], "--max-tokens"),
        (["--model", "fake:a", "--temperature", "-1"], "--temperature"),
        (["--model", "vllm:x", "--base-url", "127.0.0.1:9/v1"], "http(s) URL"),
        (
            [
                "--model",
                "fake:a",
                "--simulator",
                "prompted:fake:u",
                "--prompt-format",
                "chatbench-text-v1",
            ],
            "chat prompt format",
        ),
        (["--model", "fake:a", "--retry-errors"], "--resume"),
    ],
)
def test_bad_settings_fail_before_anything_is_written(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path, args: list[str], message: str
) -> None:
    if "--simulator" not in args:
        args = [*args, "--simulator", "scripted"]
    code, output = _run(cli, *args, "--subset", "college_math", "--out", str(tmp_path / "o"))
    assert code == 2, output
    assert message in output
    assert not (tmp_path / "o").exists()


def test_an_unwritable_run_directory_is_a_clear_error(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
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
        str(blocker),
    )
    assert code == 2, output
    assert "run directory" in output and "Traceback" not in output


def test_retry_errors_reruns_failed_episodes_and_supersedes_their_records(
    cli: CliRunner, tmp_path: Path
) -> None:
    broken = {"on": True}

    def factory(model: str, settings: TargetSettings) -> FakeTarget:
        def reply(request: TargetRequest) -> str:
            if broken["on"]:
                raise PermanentError("model_not_found", status_code=404)
            return "The answer is B."

        return FakeTarget(default=reply)

    register_adapter("flaky", factory)
    try:
        args = (
            "--model",
            "flaky:m",
            "--simulator",
            "scripted",
            "--subset",
            "college_math",
            "--limit",
            "3",
            "--out",
            str(tmp_path),
            "--run-id",
            "r",
            "--quiet",
        )
        assert _run(cli, *args)[0] == 4  # every episode failed: the run failed
        assert {e.termination.value for e in read_run(tmp_path / "r").episodes} == {"target_error"}
        broken["on"] = False
        assert _run(cli, "--resume", str(tmp_path / "r"), "--quiet")[0] == 4
        assert {e.termination.value for e in read_run(tmp_path / "r").episodes} == {"target_error"}
        code, output = _run(cli, "--resume", str(tmp_path / "r"), "--retry-errors", "--quiet")
        assert code == 0, output
        data = read_run(tmp_path / "r")
        assert len(data.episodes) == 3 and data.duplicates == 3
        assert not any(e.termination.is_error for e in data.episodes)
    finally:
        unregister_adapter("flaky")


def test_resume_refuses_a_changed_question_file(
    cli: CliRunner, fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    questions = tmp_path / "q.csv"
    rows = ["question,A,B,C,D,answer,id", "1+1?,1,2,3,4,B,q-0", "2+2?,3,4,5,6,B,q-1"]
    questions.write_text("\n".join(rows) + "\n")
    args = (
        "--model",
        "fake:a",
        "--simulator",
        "scripted",
        "--subset",
        str(questions),
        "--out",
        str(tmp_path),
        "--run-id",
        "r",
        "--quiet",
    )
    assert _run(cli, *args)[0] == 0
    questions.write_text("\n".join([rows[0], "5+5?,10,9,8,7,A,q-0", rows[2]]) + "\n")
    code, output = _run(cli, "--resume", str(tmp_path / "r"))
    assert code == 2
    assert "questions differ" in output
