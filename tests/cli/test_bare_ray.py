"""A bare ``--ray`` (last, or before another option) means ``--ray local``; ``--ray X`` and
``--ray=X`` are kept as given. Through the CLI runner, with the address check recording what
it was given (and stopping the run there, before anything is written)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_kit import fake_run_args
from typer.testing import CliRunner

import chatsim.distributed
from chatsim import ConfigError
from chatsim.cli import app
from chatsim.cli._app import bare_ray


@pytest.fixture
def addresses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def check(address: str, workers: int | None) -> None:
        seen.append(address)
        raise ConfigError("stop here")

    monkeypatch.setattr(chatsim.distributed, "check_address", check)
    return seen


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (["--ray"], "local"),
        (["--ray", "--workers", "2"], "local"),
        (["--ray", "auto"], "auto"),
        (["--ray=ray://head:10001"], "ray://head:10001"),
        (["--ray", "ray://head:10001", "--workers", "2"], "ray://head:10001"),
    ],
)
def test_run_reads_bare_ray_as_local(
    cli: CliRunner, addresses: list[str], tmp_path: Path, where: list[str], expected: str
) -> None:
    out = tmp_path / "runs"
    result = cli.invoke(app, ["run", *fake_run_args(out), *where])
    assert result.exit_code == 2, result.output
    assert "stop here" in result.output
    assert addresses == [expected]
    assert not out.exists()


def test_bare_ray_first_leaves_the_other_options_alone(
    cli: CliRunner, addresses: list[str], tmp_path: Path
) -> None:
    result = cli.invoke(app, ["run", "--ray", *fake_run_args(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert addresses == ["local"]


def test_the_help_says_so(cli: CliRunner) -> None:
    result = cli.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "--ray alone means local" in re.sub(r"[\s│]+", " ", result.output)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["loadtest", "--model", "m", "--ray"], ["loadtest", "--model", "m", "--ray", "local"]),
        (["loadtest", "--ray", "--rate", "5"], ["loadtest", "--ray", "local", "--rate", "5"]),
        (["loadtest", "--ray", "auto"], ["loadtest", "--ray", "auto"]),
        (["run", "--ray", "--", "--ray"], ["run", "--ray", "local", "--", "--ray"]),
        (["report", "runs/x", "--ray"], ["report", "runs/x", "--ray"]),  # not a Ray command
        ([], []),
    ],
)
def test_bare_ray_normalises_run_and_loadtest_only(args: list[str], expected: list[str]) -> None:
    assert bare_ray(args) == expected
