"""``chatsim loadtest`` (the command function, mounted on a typer app here)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chatsim._exceptions import ConfigError
from chatsim.cli._loadtest import loadtest_command, parse_sweep
from chatsim.loadtest import read_load_summary

app = typer.Typer()
app.command("loadtest")(loadtest_command)


@app.callback()
def _root() -> None:
    """Keep ``loadtest`` a subcommand, as in the real app."""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    cmd = [sys.executable, "-m", "chatsim.testing.server", "--tokens", "5", "--ttft-ms", "5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


def test_a_sweep_runs_and_prints_the_saturation_point(server_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "loadtest",
            "--model",
            "vllm:loopback",
            "--base-url",
            server_url,
            "--sweep",
            "5,10",
            "--duration",
            "0.3",
            "--arrival",
            "constant",
            "--slo-ttft-p95",
            "0.5",
            "--out",
            str(tmp_path),
            "--run-id",
            "lt",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "saturation: objectives met at every load up to 10 conversations/s" in result.output
    summary = read_load_summary(tmp_path / "lt")
    assert [s.load for s in summary.stages] == [5, 10]
    assert summary.objectives.ttft_p95 == 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "1", "--duration", "1"], "no model given"),
        (["--model", "vllm:x", "--rate", "1"], "duration or a number of conversations"),
        (["--model", "vllm:x", "--mode", "closed", "--duration", "1"], "number of users"),
        (["--model", "vllm:x", "--sweep", "1,x", "--duration", "1"], "'x' is not a number"),
        (["--model", "vllm:x", "--rate", "-1", "--duration", "1"], "rate"),
        (
            ["--model", "vllm:x", "--rate", "1", "--duration", "1", "--simulator-option", "batch"],
            "use KEY=VALUE",
        ),
        (
            [
                "--model",
                "vllm:x",
                "--rate",
                "1",
                "--duration",
                "1",
                "--simulator-temperature",
                "-1",
            ],
            "simulator_temperature",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["loadtest", *args, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "runs").exists()


def test_simulator_settings_reach_the_simulator(server_url: str, tmp_path: Path) -> None:
    # A model-driven user (prompted, over the same loopback server) with its own sampling.
    result = CliRunner().invoke(
        app,
        [
            "loadtest", "--model", "vllm:loopback", "--base-url", server_url,
            "--simulator", "prompted:vllm:user", "--simulator-temperature", "0.3",
            "--simulator-max-tokens", "40", "--rate", "5", "--conversations", "2",
            "--out", str(tmp_path), "--run-id", "sim", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "sim" / "header.json").read_text())["config"]
    assert config["simulator"] == "prompted:vllm:user"
    assert (config["simulator_temperature"], config["simulator_max_tokens"]) == (0.3, 40)
    assert read_load_summary(tmp_path / "sim").stages[0].completed == 2


def test_parse_sweep() -> None:
    assert parse_sweep("1, 2 4") == (1.0, 2.0, 4.0)
    assert parse_sweep(None) == ()
    with pytest.raises(ConfigError):
        parse_sweep("fast")
