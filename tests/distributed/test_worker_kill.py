"""A worker killed in the middle of a run (``ray.kill`` on its named actor, once some records
are in) is replaced; the episodes it held and had not reported are sent again, and every
planned episode is recorded exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
import pytest
from ray_kit import RunWorkers, planned_ids, record_lines
from structlog.testing import capture_logs

import chatsim
from chatsim import ChatsimError
from chatsim.testing import Latency, LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray]

RUN_ID = "kill-worker"
EPISODES = 30  # 10 questions x 3 repeats


async def _kill_first_worker(
    run_dir: Path, names: Callable[[str], list[str]], script: ReplyScript
) -> str:
    """Once a few records are in and worker 0 holds episodes it has not reported, kill it (by
    name, as an operator would); then let the server reply at full speed (the slow replies
    only had to keep the run going until the kill)."""
    import ray

    from chatsim.distributed._driver import NAMESPACE

    while len(record_lines(run_dir)) < 3:  # noqa: ASYNC110 - polls the run's file
        await anyio.sleep(0.02)
    (victim,) = [name for name in names(RUN_ID) if name.endswith(":0")]
    worker = ray.get_actor(victim, namespace=NAMESPACE)
    while await worker.holding.remote() == 0:  # noqa: ASYNC110 - still starting, on a busy box
        await anyio.sleep(0.02)
    ray.kill(worker)
    script.latency = Latency()
    return victim


async def _evaluate_killing_worker_0(
    run_workers: RunWorkers, script: ReplyScript, **options: Any
) -> tuple[chatsim.EvaluationResult | ChatsimError, list[str]]:
    """Run ``evaluate`` on the local Ray while a task kills worker 0 mid-run; return what the
    run gave (or raised) and the names killed (none if the run ended first)."""
    killed: list[str] = []

    async def kill() -> None:
        run_dir = options["out_dir"] / RUN_ID
        killed.append(await _kill_first_worker(run_dir, run_workers.names, script))

    outcome: chatsim.EvaluationResult | ChatsimError
    async with anyio.create_task_group() as group:
        group.start_soon(kill)
        try:
            outcome = await chatsim.evaluate("vllm:assistant", "college_math", **options)
        except ChatsimError as exc:
            outcome = exc
        group.cancel_scope.cancel()  # a run that ended before the kill: no kill
    return outcome, killed


async def test_a_killed_worker_is_replaced_and_every_episode_recorded_once(
    tmp_path: Path, run_workers: RunWorkers
) -> None:
    # 50 ms a reply and one call in flight per worker (--concurrency 2 over 2 workers): the
    # rest of the run (some 70 calls) lasts seconds, so the kill (at 3 records of 30) lands
    # while the worker holds unreported episodes, however fast the box.
    script = ReplyScript("I think it is B.", latency=Latency(first_token=0.05))
    async with LoopbackServer(script) as server:
        with capture_logs() as logs:
            result, killed = await _evaluate_killing_worker_0(
                run_workers, script, simulator="scripted", limit=10, repeats=3, concurrency=2,
                base_url=server.base_url, out_dir=tmp_path, run_id=RUN_ID, ray="local",
                workers=2,
            )  # fmt: skip
    assert isinstance(result, chatsim.EvaluationResult), result
    ids = [json.loads(line)["episode_id"] for line in record_lines(result.run_dir)]
    assert len(ids) == len(set(ids)) == EPISODES  # each episode once
    assert set(ids) == planned_ids(result.run_dir)  # and every planned one
    (victim,) = killed
    restarts = [e for e in logs if e["event"].startswith("ray worker died")]
    assert [e["worker"] for e in restarts] == [victim]
    assert restarts[0]["resent"] >= 1  # it held episodes it had not reported: sent again
    assert restarts[0]["replacement"].startswith(f"chatsim:{RUN_ID}:")
    assert await run_workers.gone(RUN_ID)  # the driver killed its workers at the end


async def test_a_slot_that_keeps_dying_stops_the_run_with_the_resume_command(
    tmp_path: Path, run_workers: RunWorkers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.distributed import WorkersLost, _slots

    monkeypatch.setattr(_slots, "MAX_RESTARTS", 0)  # the first death is one too many
    script = ReplyScript("I think it is B.", latency=Latency(first_token=0.05))
    options: dict[str, Any] = {"simulator": "scripted", "limit": 10, "repeats": 3}
    options |= {"concurrency": 1, "out_dir": tmp_path}
    async with LoopbackServer(script) as server:
        with capture_logs() as logs:
            # Two workers asked, one call slot (--concurrency 1): one worker starts, since a
            # second would put the run over its budget (and it is the one killed here).
            stopped, killed = await _evaluate_killing_worker_0(
                run_workers, script, **options, base_url=server.base_url, run_id=RUN_ID,
                ray="local", workers=2,
            )  # fmt: skip
        (fewer,) = [e for e in logs if e["event"].startswith("fewer ray workers than asked")]
        assert (fewer["asked"], fewer["workers"], fewer["budget"]) == (2, 1, 1)
        assert isinstance(stopped, WorkersLost), stopped
        (victim,) = killed
        assert victim in str(stopped)
        assert f"chatsim run --resume {tmp_path / RUN_ID} --ray local" in str(stopped)
        assert 3 <= len(record_lines(tmp_path / RUN_ID)) < EPISODES
        # What it says works, here in one process (a run begun on Ray resumes without it).
        resumed = await chatsim.evaluate(
            "vllm:assistant", "college_math", **options, base_url=server.base_url,
            resume=tmp_path / RUN_ID,
        )  # fmt: skip
    ids = [json.loads(line)["episode_id"] for line in record_lines(resumed.run_dir)]
    assert len(ids) == len(set(ids)) == EPISODES
    assert set(ids) == planned_ids(resumed.run_dir)
