"""A stopped run (``RunInterrupted``, a ``ChatsimError``) still exits 130 with the resume hint,
not through ``cli_errors``' generic ``ChatsimError`` branch (exit 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatsim import ChatsimError
from chatsim.cli import app
from chatsim.cli._errors import EXIT_INTERRUPTED
from chatsim.runner import RunInterrupted, RunSetup
from chatsim.testing import FakeTarget


def test_run_interrupted_is_a_chatsim_error() -> None:
    assert issubclass(RunInterrupted, ChatsimError)


def test_an_interrupted_run_exits_130_with_the_resume_hint(
    cli: CliRunner,
    fake_adapter: list[FakeTarget],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def interrupted(setup: RunSetup, **kw: Any) -> None:
        raise RunInterrupted(setup.run_dir)  # what execute_run raises after Ctrl-C / SIGTERM

    monkeypatch.setattr("chatsim.runner.execute_run", interrupted)  # the CLI imports it per run
    args = ["--model", "fake:a", "--simulator", "scripted", "--subset", "college_math"]
    result = cli.invoke(
        app, ["run", *args, "--limit", "2", "--out", str(tmp_path), "--run-id", "r", "--quiet"]
    )
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    squashed = "".join(result.output.split())  # rich wraps the line at the terminal width
    assert f"chatsimrun--resume{tmp_path / 'r'}" in squashed
    assert "RunInterrupted" not in result.output  # not the generic "error: <Type>: ..." line
