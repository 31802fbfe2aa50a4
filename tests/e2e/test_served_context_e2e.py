"""Issue 15: a 1,024-token simulator server (vLLM's ``--max-model-len 1024``) loses no episode:
the served simulator reads the limit from ``/v1/models`` and trims to it, through the CLI and
``evaluate()``; the seed setting is an option and is recorded in the header."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from e2e_kit import CHATSIM, cli_env

import chatsim
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import EpisodeRecord, read_run
from chatsim.testing import LoopbackServer, ReplyContext, ReplyScript

pytestmark = pytest.mark.anyio

#: 600 three-byte words: two such replies pass a 1,024-word context, not a 2,048-token guess.
ASSISTANT = "ab " * 600 + "The answer is B."


def served_user(context: ReplyContext) -> str:
    """Ask, push back once, then answer (an older reply trimmed away counts as seen)."""
    prompt = context.prompt or ""
    if prompt.count("[ASSISTANT]") >= 2 or "[...]" in prompt:
        return "Answer: B"
    return "Are you sure?" if "[ASSISTANT]" in prompt else "Can you help me with this one?"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[LoopbackServer, LoopbackServer]]:
    """The assistant's server, and the simulator's with a 1,024-token context."""
    async with (
        LoopbackServer(ReplyScript(ASSISTANT)) as target,
        LoopbackServer(ReplyScript(served_user), context_length=1024) as simulator,
    ):
        yield target, simulator


def _user_attempts(episodes: list[EpisodeRecord]) -> list[tuple[str, int | None]]:
    return [
        (a.outcome, a.status_code)
        for e in episodes
        for t in e.turns
        if t.role is Role.USER
        for a in t.attempts
    ]


async def test_cli_run_against_a_1024_token_simulator_server(
    servers: tuple[LoopbackServer, LoopbackServer], tmp_path: Path
) -> None:
    target, simulator = servers
    args = [
        *CHATSIM, "run", "--model", "vllm:assistant", "--base-url", target.base_url,
        "--simulator", "served:chatbench", "--simulator-base-url", simulator.base_url,
        "--subset", "college_math", "--limit", "3", "--out", str(tmp_path), "--run-id", "s",
        "--quiet",
    ]  # fmt: skip
    result = await anyio.run_process(args, env=cli_env(), check=False)
    assert result.returncode == 0, result.stderr.decode()
    data = read_run(tmp_path / "s")
    assert len(data.episodes) == 3
    assert all(e.termination is TerminationReason.ANSWERED for e in data.episodes)
    assert any(t.context_trimmed for e in data.episodes for t in e.turns)
    assert {o for o, _ in _user_attempts(data.episodes)} == {"ok"}  # no refused prompt
    assert all(len(r.body["prompt"].split()) <= 1024 for r in simulator.completion_requests)
    assert [r.path for r in simulator.requests if r.endpoint == "models"] == ["/v1/models"]
    header = json.loads((tmp_path / "s" / "header.json").read_text())
    assert header["config"]["simulator_options"] == {"seed": True}
    logged = [json.loads(line) for line in (tmp_path / "s" / "log.jsonl").read_text().splitlines()]
    (read,) = [e for e in logged if e["event"].startswith("served simulator context length")]
    assert read["context_tokens"] == 1024


async def test_evaluate_sets_the_seed_and_the_context_as_simulator_options(
    servers: tuple[LoopbackServer, LoopbackServer], tmp_path: Path
) -> None:
    target, simulator = servers
    common = {
        "subset": "college_math", "limit": 2, "simulator": "served:chatbench",
        "base_url": target.base_url, "simulator_base_url": simulator.base_url,
        "out_dir": tmp_path,
    }  # fmt: skip
    unseeded = await chatsim.evaluate("vllm:assistant", simulator_options={"seed": False}, **common)
    assert all(e.termination is TerminationReason.ANSWERED for e in unseeded.episodes)
    assert {o for o, _ in _user_attempts(unseeded.episodes)} == {"ok"}
    assert all("seed" not in r.body for r in simulator.completion_requests)
    header = json.loads((unseeded.run_dir / "header.json").read_text())
    assert header["config"]["simulator_options"] == {"seed": False}

    # The old fixed 2,048: the long turns are refused for their length first.
    simulator.clear()
    fixed = await chatsim.evaluate(
        "vllm:assistant", simulator_options={"context_tokens": 2048}, **common
    )
    assert all(e.termination is TerminationReason.ANSWERED for e in fixed.episodes)
    assert ("permanent", 400) in _user_attempts(fixed.episodes)
    assert not [r for r in simulator.requests if r.endpoint == "models"]
    assert all("seed" in r.body for r in simulator.completion_requests)
