"""One conversation configuration: every value ``run`` refuses, ``loadtest`` refuses too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from chatsim._exceptions import ConfigError
from chatsim.cli import app
from chatsim.loadtest import LoadTestConfig
from chatsim.runner import ConversationConfig, RunConfig

INVALID: list[tuple[str, Any]] = [
    ("target_temperature", -3),
    ("target_temperature", float("nan")),
    ("target_max_tokens", 0),
    ("simulator_temperature", -1),
    ("simulator_temperature", float("inf")),
    ("simulator_max_tokens", 0),
    ("max_turns", 0),
    ("episode_timeout", 0),
    ("episode_timeout", -5),
    ("not_a_field", 1),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_run_and_loadtest_refuse_the_same_values(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        RunConfig.model_validate({"models": ["vllm:x"], field: value})
    with pytest.raises(ConfigError, match=field):
        LoadTestConfig.build(model="vllm:x", rate=1, duration=1, **{field: value})


def test_both_commands_share_the_conversation_fields() -> None:
    shared = set(ConversationConfig.model_fields)
    assert shared <= set(RunConfig.model_fields)
    assert shared <= set(LoadTestConfig.model_fields)
    # What is not shared is each command's own.
    assert set(RunConfig.model_fields) - shared == {
        "models", "limit", "question_seed", "repeats", "concurrency", "max_episodes_in_flight",
        "baseline", "max_error_share", "condition",
    }  # fmt: skip


@pytest.mark.parametrize("command", ["run", "loadtest"])
@pytest.mark.parametrize(
    "option", [["--max-tokens", "0"], ["--simulator-temperature", "-3"], ["--max-turns", "0"]]
)
def test_the_cli_refuses_them_before_anything_is_written(
    command: str, option: list[str], tmp_path: Path
) -> None:
    size = ["--limit", "1"] if command == "run" else ["--rate", "1", "--duration", "1"]
    result = CliRunner().invoke(
        app,
        [command, "--model", "vllm:x", "--base-url", "http://127.0.0.1:9/v1", "--simulator",
         "scripted", *size, *option, "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert option[0].lstrip("-").split("-")[-1] in result.output
    assert not any(tmp_path.iterdir())
