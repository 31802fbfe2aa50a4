"""Issue 15: the served simulator's options through ``chatsim run`` and ``chatsim loadtest``
(checked before anything is written) and through ``loadtest()`` (recorded in the header)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatsim.cli import app
from chatsim.loadtest import loadtest
from chatsim.testing import FakeTarget, LoopbackServer, ReplyScript

SERVED = ["--simulator", "served:chatbench", "--simulator-base-url", "http://127.0.0.1:9/v1"]


@pytest.mark.parametrize("command", ["run", "loadtest"])
@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("context=1024", "for served:; valid: context_tokens, seed"),
        ("seed=maybe", "seed"),
        ("context_tokens=100", "context_tokens (100) must exceed"),
    ],
)
def test_bad_served_options_exit_2_before_anything_is_written(
    cli: CliRunner,
    fake_adapter: list[FakeTarget],
    tmp_path: Path,
    command: str,
    option: str,
    message: str,
) -> None:
    extra = ["--rate", "1", "--conversations", "1"] if command == "loadtest" else ["--quiet"]
    args = [command, "--model", "fake:a", *SERVED, "--simulator-option", option,
            "--subset", "college_math", "--out", str(tmp_path / "o"), *extra]  # fmt: skip
    result = cli.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "o").exists()


@pytest.mark.anyio
async def test_a_load_test_with_a_served_user_records_its_options(tmp_path: Path) -> None:
    async with (
        LoopbackServer(ReplyScript("The answer is B.")) as target,
        LoopbackServer(ReplyScript("Answer: B"), context_length=1024) as simulator,
    ):
        result = await loadtest(
            "vllm:loopback", base_url=target.base_url, simulator="served:chatbench",
            simulator_base_url=simulator.base_url, simulator_options={"seed": False},
            arrival="constant", rate=20, conversations=2, subset="college_math",
            out_dir=tmp_path, run_id="lt",
        )  # fmt: skip
        sent = [r.body for r in simulator.completion_requests]
        listed = [r for r in simulator.requests if r.endpoint == "models"]
    assert result.stages[0].completed == 2 and result.stages[0].errors == 0
    assert len(sent) == 2 and all("seed" not in body for body in sent)
    assert len(listed) == 1
    config = json.loads((tmp_path / "lt" / "header.json").read_text())["config"]
    assert config["simulator_options"] == {"seed": False}
