"""The driver of a Ray run killed with SIGKILL in the middle: its worker actors go with it,
and ``chatsim run --resume RUN_DIR --ray`` completes the run with no duplicate.

Both drivers are ``chatsim run --ray auto`` subprocesses joining this session's local Ray
(``RAY_ADDRESS``), rather than each starting a Ray of its own (slow on CI's 2 cores)."""

from __future__ import annotations

import json
import os
import sys
from importlib.util import find_spec
from pathlib import Path

import anyio
import pytest
from ray_kit import RunWorkers, planned_ids, record_lines

from chatsim.testing import Latency, LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray]

RUN_ID = "kill-driver"
EPISODES = 30  # 10 questions x 3 repeats


async def test_a_killed_driver_resumes_on_ray_with_no_duplicate(
    tmp_path: Path, local_ray: str, run_workers: RunWorkers
) -> None:
    env = {**os.environ, "RAY_ADDRESS": local_ray}
    chatsim = [sys.executable, "-m", "chatsim", "run", "--ray", "auto", "-q"]
    run_dir = tmp_path / RUN_ID
    # 50 ms a reply, two calls in flight: the 70-odd calls take seconds, so the kill (at 3
    # records) lands mid-run however fast the box. One worker: a second actor to start costs
    # more than it shows here (test_worker_kill runs two).
    script = ReplyScript("I think it is C.", latency=Latency(first_token=0.05))
    async with LoopbackServer(script) as server:
        first = [*chatsim, "--model", "vllm:assistant", "--base-url", server.base_url]
        first += ["--simulator", "scripted", "--subset", "college_math", "--limit", "10"]
        first += ["--repeats", "3", "--concurrency", "2", "--out", str(tmp_path)]
        first += ["--run-id", RUN_ID, "--workers", "1"]
        log = (tmp_path / "driver.log").open("wb")  # a file: a full pipe would stall the driver
        async with await anyio.open_process(first, env=env, stdout=log, stderr=log) as driver:
            while len(record_lines(run_dir)) < 3 and driver.returncode is None:  # noqa: ASYNC110 - a file another process writes
                await anyio.sleep(0.02)
            driver.kill()  # SIGKILL: no clean-up of any kind
            await driver.wait()
        log.close()
        assert driver.returncode == -9, (tmp_path / "driver.log").read_text()[-2000:]
        assert 3 <= len(record_lines(run_dir)) < EPISODES  # killed mid-run
        # Ray ends a dead driver's actors; none is left holding the run's episodes.
        assert await run_workers.gone(RUN_ID)

        script.latency = Latency()  # the resume has no kill to wait for: full speed

        resumed = await anyio.run_process(
            # One worker finishes it: a second actor to start costs more than it saves here.
            [*chatsim, "--resume", str(run_dir), "--workers", "1"],
            env=env,
            check=False,
        )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    ids = [json.loads(line)["episode_id"] for line in record_lines(run_dir)]
    assert len(ids) == len(set(ids)) == EPISODES  # each episode once
    assert set(ids) == planned_ids(run_dir)  # and every planned one
