"""A simulator actor that dies in the middle of a run stops it at once, with the records so far
kept and the resume command that re-runs what it failed (``--retry-errors``), rather than
letting every later turn fail as a simulator error. (The scripted simulator plays the ``hf:``
actor here: an actor's life does not depend on the model it holds.)"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
import pytest
from ray_kit import RunWorkers, one_actor_on_no_cpu, record_lines

import chatsim
from chatsim import SimulatorError
from chatsim.testing import Latency, LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray, pytest.mark.usefixtures("local_ray")]

EPISODES = 30  # 10 questions x 3 repeats


async def test_a_dead_simulator_actor_stops_the_run_with_the_resume_command(
    tmp_path: Path, run_workers: RunWorkers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    from chatsim.distributed import _driver

    started: list[Any] = []

    async def one_scripted_actor(spec: str, settings: Any, **_: Any) -> Any:
        actors = await one_actor_on_no_cpu(spec, settings)
        started.append(actors)
        return actors

    monkeypatch.setattr(_driver, "runs_on_actors", lambda spec: True)
    monkeypatch.setattr(_driver, "launch_simulator_actors", one_scripted_actor)
    run_dir = tmp_path / "lost-actor"

    async def kill_the_actor() -> None:
        while len(record_lines(run_dir)) < 3:  # noqa: ASYNC110 - polls the run's file
            await anyio.sleep(0.02)
        ray.kill(started[0].handles[0])

    # 50 ms a reply, two calls in flight: the run lasts seconds, so the kill lands mid-run.
    script = ReplyScript("I think it is C.", latency=Latency(first_token=0.05))
    async with LoopbackServer(script) as server, anyio.create_task_group() as group:
        group.start_soon(kill_the_actor)
        with pytest.raises(SimulatorError) as caught:
            await chatsim.evaluate(
                "vllm:assistant", "college_math", simulator="scripted", limit=10, repeats=3,
                concurrency=2, base_url=server.base_url, out_dir=tmp_path, run_id="lost-actor",
                ray="local", workers=1,
            )  # fmt: skip
        group.cancel_scope.cancel()
    message = str(caught.value)
    assert "simulator actor actor-0@" in message and "died" in message
    assert f"chatsim run --resume {run_dir} --ray local --retry-errors" in message
    assert 3 <= len(record_lines(run_dir)) < EPISODES
    assert await run_workers.gone("lost-actor")
