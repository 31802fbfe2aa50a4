"""``chatsim loadtest --ray`` with an ``hf:`` simulator: the driver starts the GPU simulator
actors (here the folder's one on CPUs, with the session's tiny model: ``lent_hf_actors``)
without loading the model itself, the load workers' conversations call them one turn at a
time, and the driver ends the actors and its workers afterwards."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from ray_kit import HF_SETTINGS, HfLender, actor_table, all_dead

from chatsim.loadtest import LOAD_SUMMARY_FILE, loadtest
from chatsim.protocol import Role
from chatsim.recording import read_run
from chatsim.testing import LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray, pytest.mark.usefixtures("local_ray")]


async def test_a_ray_load_test_plays_hf_on_the_simulator_actors(
    tiny_model: Any, lent_hf_actors: HfLender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.loadtest import _ray_simulators

    monkeypatch.setattr(_ray_simulators, "launch_simulator_actors", lent_hf_actors.launch)
    loaded: list[str] = []

    def no_model_here(spec: str, *args: Any) -> Any:
        loaded.append(spec)  # the driver would load the model here: it must not
        raise AssertionError("the driver built the simulator")

    monkeypatch.setattr("chatsim.loadtest._setup.create_simulator", no_model_here)
    before = set(actor_table())
    async with LoopbackServer(ReplyScript("The answer is A.")) as target:
        result = await loadtest(
            "vllm:assistant", base_url=target.base_url, simulator=tiny_model.spec,
            simulator_temperature=HF_SETTINGS.temperature,
            simulator_max_tokens=HF_SETTINGS.max_tokens, simulator_options=HF_SETTINGS.options,
            arrival="constant", rate=50.0, conversations=4, max_turns=2, seed=5,
            subset="college_math", out_dir=tmp_path, run_id="hf", ray="local", workers=1,
        )  # fmt: skip
    assert loaded == []

    # Every conversation recorded, its user turns answered by the actor, with its times.
    episodes = read_run(result.run_dir).episodes
    assert len(episodes) == 4
    (stage,) = result.stages
    assert stage.arrivals == stage.completed == 4
    for episode in episodes:
        (replica,) = episode.extra["simulator_replicas"]
        assert replica.startswith("actor-0@")
        users = [t for t in episode.turns if t.role is Role.USER]
        assert users and all(t.queue_time is not None and t.queue_time >= 0 for t in users)
        assert all(t.started_at is not None and t.ended_at is not None for t in users)
    stored = json.loads((result.run_dir / LOAD_SUMMARY_FILE).read_text())
    assert stored["stages"][0]["completed"] == 4

    # The driver ended the simulator actors it was given, and the load worker it started is gone.
    assert lent_hf_actors.returned
    started = {key: cls for key, (cls, _) in actor_table().items() if key not in before}
    assert sorted(started.values()) == ["LoadWorker"]
    assert await all_dead(set(started))
