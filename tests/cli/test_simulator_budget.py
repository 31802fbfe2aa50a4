"""Issue 15: ``--rpm`` budgets the targets, not a ``served:``/``prompted:`` simulator on its own
endpoint; ``--policy simulator.requests_per_minute=...`` does, through ``chatsim run`` and
``evaluate()``.

No wall-clock assertion: the budget is 0.01 requests per minute (one request, then 100
minutes to wait), so whether the simulator's second request is held shows in what the
loopback server received and how the episode ended. One episode has one target call and two
simulator calls (ask, then answer), so the same budget on the target never bites.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from typer.testing import CliRunner

import chatsim
from chatsim import RunFailedError
from chatsim.cli import app
from chatsim.protocol import TerminationReason
from chatsim.recording import EpisodeRecord, read_run
from chatsim.testing import FakeTarget, LoopbackServer, ReplyContext, ReplyScript

TINY = 0.01
"""Requests per minute: the bucket holds one, the next comes 100 minutes later."""
SHORT = 1.0
"""Episode deadline of a throttled run (it cannot finish: it ends at the deadline)."""
LONG = 60.0
"""Episode deadline of a run that must finish (no 100-minute wait in it)."""


def _user(context: ReplyContext) -> str:
    """Ask once, then answer: text prompts (served) and chat messages (prompted) alike."""
    if context.prompt is not None:
        replied = "[ASSISTANT]" in context.prompt
    else:  # the simulator's own earlier turns are its assistant messages
        replied = any(m.get("role") == "assistant" for m in context.messages)
    return "Answer: B" if replied else "Can you help me with this one?"


def _server() -> LoopbackServer:
    return LoopbackServer(ReplyScript(_user), context_length=4096)


@pytest.fixture
def simulator() -> Iterator[LoopbackServer]:
    """The simulator's own endpoint, on its own event loop in a thread (the CLI runs here)."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(_server()) as srv:
        yield srv


def _check(
    episodes: list[EpisodeRecord], server: LoopbackServer, target: FakeTarget, throttled: bool
) -> None:
    (episode,) = episodes
    assert len(target.requests) == 1  # the target's budget let its one call through
    if throttled:
        assert len(server.completion_requests) == 1  # the second request is held
        assert episode.termination is TerminationReason.TIMEOUT
    else:
        assert len(server.completion_requests) == 2
        assert episode.termination is TerminationReason.ANSWERED


@pytest.mark.parametrize("throttled", [False, True])
def test_cli_rpm_leaves_a_served_simulator_alone_unless_asked(
    cli: CliRunner,
    fake_adapter: list[FakeTarget],
    simulator: LoopbackServer,
    tmp_path: Path,
    throttled: bool,
) -> None:
    asked = ["--policy", f"simulator.requests_per_minute={TINY}"] if throttled else []
    args = [
        "run", "--model", "fake:a", "--simulator", "served:chatbench",
        "--simulator-base-url", simulator.base_url, "--subset", "college_math", "--limit", "1",
        "--rpm", str(TINY), *asked, "--episode-timeout", str(SHORT if throttled else LONG),
        "--out", str(tmp_path), "--run-id", "r", "--quiet",
    ]  # fmt: skip
    result = cli.invoke(app, args)
    assert result.exit_code == (4 if throttled else 0), result.output
    _check(read_run(tmp_path / "r").episodes, simulator, fake_adapter[-1], throttled)
    policy = read_run(tmp_path / "r").header.config.policy
    assert policy["requests_per_minute"] == TINY
    assert ("simulator.requests_per_minute" in policy) is throttled


@pytest.mark.anyio
@pytest.mark.parametrize("spec", ["served:chatbench", "prompted:vllm:user"])
@pytest.mark.parametrize("throttled", [False, True])
async def test_evaluate_rpm_leaves_the_simulator_s_own_endpoint_alone_unless_asked(
    fake_adapter: list[FakeTarget], tmp_path: Path, spec: str, throttled: bool
) -> None:
    policy: dict[str, Any] = {"requests_per_minute": TINY}
    if throttled:
        policy["simulator.requests_per_minute"] = TINY
    async with _server() as server:
        run = chatsim.evaluate(
            "fake:a", "college_math", limit=1, simulator=spec,
            simulator_base_url=server.base_url, policy=policy,
            episode_timeout=SHORT if throttled else LONG, out_dir=tmp_path,
        )  # fmt: skip
        if throttled:
            with pytest.raises(RunFailedError) as info:
                await run
            episodes = info.value.result.episodes
        else:
            episodes = (await run).episodes
        _check(episodes, server, fake_adapter[-1], throttled)
