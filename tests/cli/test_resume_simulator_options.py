"""Issue 15: a resume keeps the simulator's backend options as recorded, and refuses different
ones naming each, through ``chatsim run --resume`` and ``evaluate(resume=...)``.

The simulator is served by a loopback server running in a portal thread, so the CLI runs
in-process and the requests it sent can be read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from typer.testing import CliRunner

import chatsim
from chatsim import RunDirectoryError
from chatsim.cli import app
from chatsim.recording import read_run
from chatsim.testing import FakeTarget, LoopbackServer, ReplyContext, ReplyScript


def _user(context: ReplyContext) -> str:
    """Ask once, then answer."""
    return "Answer: B" if "[ASSISTANT]" in (context.prompt or "") else "Can you help me?"


@pytest.fixture
def simulator() -> Iterator[LoopbackServer]:
    """A served simulator's endpoint, on its own event loop in a thread."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(LoopbackServer(ReplyScript(_user))) as server,
    ):
        yield server


def _args(server: LoopbackServer, out: Path, *extra: str) -> list[str]:
    return ["run", "--model", "fake:a", "--simulator", "served:chatbench",
            "--simulator-base-url", server.base_url, "--subset", "college_math", "--limit", "3",
            "--out", str(out), "--run-id", "r", "--quiet", *extra]  # fmt: skip


def _stop_after_one(run_dir: Path) -> None:
    """Leave the run as if stopped after its first episode."""
    episodes = run_dir / "episodes.jsonl"
    episodes.write_text(episodes.read_text().splitlines(keepends=True)[0])


def _stored_options(run_dir: Path) -> dict[str, object]:
    options: dict[str, object] = json.loads((run_dir / "header.json").read_text())["config"][
        "simulator_options"
    ]
    return options


def test_cli_resume_keeps_and_guards_the_stored_simulator_options(
    cli: CliRunner, fake_adapter: list[FakeTarget], simulator: LoopbackServer, tmp_path: Path
) -> None:
    run_dir = tmp_path / "r"
    first = cli.invoke(app, _args(simulator, tmp_path, "--simulator-option", "seed=false"))
    assert first.exit_code == 0, first.output
    _stop_after_one(run_dir)

    # Different options: refused before anything is sent or written, each one named; a given
    # option merges onto the stored ones, so only the one given differs (seed stays false).
    simulator.clear()
    for option, named in [
        ("seed=true", "simulator_options.seed: run has False, given True"),
        ("context_tokens=1024", "simulator_options.context_tokens: run has it unset, given 1024"),
    ]:
        refused = cli.invoke(app, ["run", "--resume", str(run_dir), "--simulator-option", option])
        text = " ".join(refused.output.split())
        assert refused.exit_code == 2, refused.output
        assert "cannot resume" in text and named in text
        assert "simulator_options.seed" not in text or option.startswith("seed")
    assert simulator.completion_requests == []
    assert len(read_run(run_dir).episodes) == 1

    # The same option again is no difference (checked with --dry-run: nothing is sent).
    same = cli.invoke(app, ["run", "--resume", str(run_dir), "--simulator-option", "seed=false",
                            "--dry-run"])  # fmt: skip
    assert same.exit_code == 0, same.output

    # No --simulator-option: the stored seed=false is kept, not reverted to the default.
    resumed = cli.invoke(app, ["run", "--resume", str(run_dir), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert len(read_run(run_dir).episodes) == 3
    sent = simulator.completion_requests
    assert sent and all("seed" not in r.body for r in sent)
    assert _stored_options(run_dir) == {"seed": False}


@pytest.mark.anyio
async def test_evaluate_resume_refuses_other_simulator_options(
    fake_adapter: list[FakeTarget], tmp_path: Path
) -> None:
    async with LoopbackServer(ReplyScript(_user)) as server:
        common: dict[str, Any] = {
            "subset": "college_math", "limit": 3, "simulator": "served:chatbench",
            "simulator_base_url": server.base_url, "out_dir": tmp_path, "run_id": "r",
        }  # fmt: skip
        done = await chatsim.evaluate("fake:a", simulator_options={"seed": False}, **common)
        _stop_after_one(done.run_dir)
        server.clear()
        del common["run_id"]
        # evaluate() states every argument: the default (seed sent) differs from the record.
        for options, named in [
            ({}, "simulator_options.seed: run has False, given True"),
            ({"seed": False, "context_tokens": 4096},
             "simulator_options.context_tokens: run has it unset, given 4096"),
        ]:  # fmt: skip
            with pytest.raises(RunDirectoryError, match="cannot resume") as info:
                await chatsim.evaluate(
                    "fake:a", resume=done.run_dir, simulator_options=options, **common
                )
            assert named in str(info.value)
        assert server.completion_requests == []
        resumed = await chatsim.evaluate(
            "fake:a", resume=done.run_dir, simulator_options={"seed": False}, **common
        )
        sent = server.completion_requests
    assert len(resumed.episodes) == 3
    assert sent and all("seed" not in r.body for r in sent)
    assert _stored_options(done.run_dir) == {"seed": False}
