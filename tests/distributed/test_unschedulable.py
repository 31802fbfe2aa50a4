"""An actor Ray can never place (it asks for more than any node has) stops the run once
``CHATSIM_RAY_SCHEDULE_TIMEOUT`` passes, with an error naming what it asked for and what the
cluster has, the records so far kept and the ``--resume`` command; it does not wait forever.

The local test Ray has 2 CPUs and no GPU: a worker asking for 3 CPUs, or a simulator actor
asking for a GPU, can never be placed there. (A simulator actor is placed before it loads its
model, so the deadline does not count the load; a load that fails still names the actor.)"""

from __future__ import annotations

from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from ray_kit import RunWorkers, actor_table, all_dead, record_lines

import chatsim
from chatsim import ConfigError
from chatsim.distributed import SCHEDULE_TIMEOUT_VARIABLE, ActorNotPlaced, schedule_timeout
from chatsim.recording import read_header
from chatsim.simulators._registry import SimulatorSettings
from chatsim.testing import LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = pytest.mark.anyio

DEADLINE = "0.25"
"""Seconds: a deadline this short only shows an actor that can never be placed (a placeable
one still has the whole default)."""


def test_the_schedule_timeout_comes_from_the_environment() -> None:
    assert schedule_timeout({}) == 120.0
    assert schedule_timeout({SCHEDULE_TIMEOUT_VARIABLE: " 2.5 "}) == 2.5
    for bad in ("0", "-3", "soon", "inf", "nan"):
        with pytest.raises(ConfigError, match=rf"{SCHEDULE_TIMEOUT_VARIABLE}='{bad}'.*positive"):
            schedule_timeout({SCHEDULE_TIMEOUT_VARIABLE: bad})


@needs_ray
def test_a_bad_schedule_timeout_fails_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatsim.distributed import check_address

    monkeypatch.setenv(SCHEDULE_TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ConfigError, match=SCHEDULE_TIMEOUT_VARIABLE):
        check_address("local", 2)


@needs_ray
@pytest.mark.usefixtures("local_ray")
async def test_a_worker_no_node_can_host_stops_the_run_with_the_resume_command(
    tmp_path: Path, run_workers: RunWorkers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.distributed import _slots

    monkeypatch.setattr(_slots, "WORKER_RESOURCES", {"CPU": 3.0})  # the local Ray has 2
    monkeypatch.setenv(SCHEDULE_TIMEOUT_VARIABLE, DEADLINE)
    async with LoopbackServer(ReplyScript("It is A.")) as server:
        with pytest.raises(ActorNotPlaced) as caught:
            await chatsim.evaluate(
                "vllm:assistant", "college_math", simulator="scripted", limit=2,
                base_url=server.base_url, out_dir=tmp_path, run_id="unplaced", ray="local",
                workers=1,
            )  # fmt: skip
    message = str(caught.value)
    assert "episode worker chatsim:unplaced:" in message
    assert "within 0.25 s" in message
    assert "asks for {CPU: 3}" in message
    assert "the cluster has {CPU: 2}" in message  # in all; and free now:
    assert "free now" in message and "--workers" in message
    assert f"{SCHEDULE_TIMEOUT_VARIABLE}=SECONDS" in message
    assert f"chatsim run --resume {tmp_path / 'unplaced'} --ray local" in message
    # The run directory stays, resumable: its header, no record.
    assert read_header(tmp_path / "unplaced").run_id == "unplaced"
    assert record_lines(tmp_path / "unplaced") == []
    assert await run_workers.gone("unplaced")  # the pending actor was ended


@needs_ray
@pytest.mark.usefixtures("local_ray")
async def test_gpu_simulator_actors_on_a_gpu_less_ray_stop_at_the_deadline() -> None:
    from chatsim.distributed._simulators import start_simulator_actors

    with pytest.raises(ActorNotPlaced, match=r"simulator actor 0 \(scripted\)") as caught:
        await start_simulator_actors(
            "scripted", SimulatorSettings(), count=1, num_gpus=1, place_within=0.25
        )
    assert "asks for {CPU: 1, GPU: 1}" in str(caught.value)
    assert "GPU" not in str(caught.value).split("the cluster has")[1].split("in all")[0]


@needs_ray
@pytest.mark.usefixtures("local_ray")
async def test_an_hf_run_whose_gpu_actor_is_never_placed_stops_with_the_resume_command(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.distributed import _driver, _simulators

    # One actor asking for a GPU the local Ray does not have (so its model is never loaded).
    start = partial(_simulators.launch_simulator_actors, count=1, num_gpus=1)
    monkeypatch.setattr(_driver, "launch_simulator_actors", start)
    monkeypatch.setenv(SCHEDULE_TIMEOUT_VARIABLE, DEADLINE)
    async with LoopbackServer(ReplyScript("The answer is A.")) as target:
        with pytest.raises(ActorNotPlaced) as caught:
            await chatsim.evaluate(
                model="vllm:assistant", base_url=target.base_url, simulator=tiny_model.spec,
                subset="college_math", limit=2, out_dir=tmp_path, run_id="no-gpu", ray="local",
            )  # fmt: skip
    message = str(caught.value)
    assert "simulator actor 0" in message and "GPU: 1" in message
    assert "0 new episodes recorded" in message
    assert f"chatsim run --resume {tmp_path / 'no-gpu'} --ray local" in message
    assert record_lines(tmp_path / "no-gpu") == []


@needs_ray
@pytest.mark.usefixtures("local_ray")
async def test_a_simulator_actor_that_fails_to_load_names_itself() -> None:
    from chatsim import SimulatorError
    from chatsim.distributed._simulators import start_simulator_actors

    # Placed at once (no CPU, no GPU asked), then its model fails to load in ``serve``.
    with pytest.raises(SimulatorError, match=r"simulator actor 0 \(nope:x\) could not start"):
        await start_simulator_actors("nope:x", SimulatorSettings(), count=1, num_gpus=0, num_cpus=0)


@needs_ray
@pytest.mark.usefixtures("local_ray")
async def test_a_load_worker_no_node_can_host_stops_the_load_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.loadtest import _ray_driver, loadtest

    monkeypatch.setattr(_ray_driver, "LOAD_WORKER_RESOURCES", {"CPU": 3.0})  # the Ray has 2
    monkeypatch.setenv(SCHEDULE_TIMEOUT_VARIABLE, DEADLINE)
    before = set(actor_table())
    async with LoopbackServer(ReplyScript("It is A.")) as server:
        with pytest.raises(ActorNotPlaced) as caught:
            await loadtest(
                "vllm:assistant", base_url=server.base_url, arrival="constant", rate=10.0,
                conversations=2, out_dir=tmp_path, run_id="unplaced", ray="local", workers=1,
            )  # fmt: skip
    message = str(caught.value)
    assert "load worker 0 of 1" in message and "asks for {CPU: 3}" in message
    assert "the cluster has {CPU: 2}" in message and "within 0.25 s" in message
    assert record_lines(tmp_path / "unplaced") == []
    started = {key for key, (cls, _) in actor_table().items() if key not in before}
    assert started and await all_dead(started)  # the pending worker was ended
