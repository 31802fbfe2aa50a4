"""Simulator fleets on Ray: ``hf:`` as actors (here on CPUs, the tiny model) that episode
workers call one turn at a time, sticky per episode, with the actor's own timings; and a
``served:`` fleet built by every worker from the run's configuration."""

from __future__ import annotations

import contextlib
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
import pytest
from ray_kit import HF_SETTINGS, HfLender

import chatsim
from chatsim import ConfigError, SimulatorError
from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question
from chatsim.recording import read_run
from chatsim.simulators import UserTurnRequest
from chatsim.simulators._registry import SimulatorSettings
from chatsim.testing import LoopbackServer, ReplyContext, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray, pytest.mark.usefixtures("local_ray")]

SETTINGS = SimulatorSettings(
    temperature=0.0,  # greedy: the actors' turns must equal one process's
    max_tokens=24,
    options={"context_tokens": 1024, "max_batch_size": 8, "max_wait": 0.05},
)


def _request(episode: int, history: tuple[Message, ...] = ()) -> UserTurnRequest:
    question = Question(
        id=f"q{episode}",
        subject="elementary_mathematics",
        stem=f"What is {episode} + {episode + 3}?",
        options=(str(2 * episode + 3), str(2 * episode + 1), str(episode), "7"),
        gold="A",
    )
    step = SimulatorStep.NEXT if history else SimulatorStep.FIRST
    return UserTurnRequest(f"episode-{episode}", question, history, step, seed=episode)


async def test_actors_keep_each_episode_on_one_and_route_around_a_dead_one() -> None:
    import ray

    from chatsim.distributed._simulators import start_simulator_actors

    actors = await start_simulator_actors("scripted", SimulatorSettings(), count=2, num_gpus=0)
    try:
        client = actors.client()
        turns = await client.generate([_request(e) for e in range(6)])
        reply = Message(Role.ASSISTANT, "It is A.")
        seconds = [_request(e, (Message(Role.USER, t.text), reply)) for e, t in enumerate(turns)]
        again = await client.generate(seconds)
        assert [t.replica for t in again] == [t.replica for t in turns]  # pinned
        assert sorted(t.replica or "" for t in turns) == sorted(actors.names * 3)  # spread

        # An actor that dies fails its episodes' turns, naming it; new episodes avoid it.
        on_1 = next(i for i, t in enumerate(turns) if t.replica == actors.names[1])
        ray.kill(actors.handles[1])
        # ray.kill only asks: wait until the actor is gone (its serve call ends with it), or
        # the next turn may still reach it on a busy machine.
        with anyio.fail_after(60), contextlib.suppress(ray.exceptions.RayError):
            await actors.serving[1]
        with pytest.raises(SimulatorError, match="actor-1"):
            await client.generate([seconds[on_1]])
        fresh = await client.generate([_request(e) for e in (7, 8)])
        assert [t.replica for t in fresh] == [actors.names[0]] * 2
    finally:
        await actors.stop()


async def test_hf_actors_need_gpus_or_a_count() -> None:
    from chatsim.distributed._simulators import start_simulator_actors

    with pytest.raises(ConfigError, match="needs GPUs in the cluster"):
        await start_simulator_actors("hf:unused+unused", SETTINGS)  # the local Ray has none
    with pytest.raises(ConfigError, match="need a count"):
        await start_simulator_actors("hf:unused+unused", SETTINGS, num_gpus=0)


async def test_a_ray_worker_spreads_its_episodes_over_the_served_replicas(
    tmp_path: Path,
) -> None:
    def user(context: ReplyContext) -> str:
        return "Answer: B" if "It is B." in (context.prompt or "") else "Can you help me?"

    async with (
        LoopbackServer(ReplyScript("It is B.")) as target,
        LoopbackServer(ReplyScript(user)) as sim_a,
        LoopbackServer(ReplyScript(user)) as sim_b,
    ):
        result = await chatsim.evaluate(
            model="vllm:assistant",
            base_url=target.base_url,
            simulator="served:chatbench",
            simulator_base_url=f"{sim_a.base_url},{sim_b.base_url}",
            subset="college_math",
            limit=4,
            repeats=2,
            out_dir=tmp_path,
            ray="local",
            workers=1,  # the fleet is the worker's own, built from the run's configuration
        )
    episodes = read_run(result.run_dir).episodes
    assert len(episodes) == 8
    replicas = [e.extra["simulator_replicas"] for e in episodes]
    assert all(len(r) == 1 for r in replicas)
    assert {r[0] for r in replicas} == {sim_a.base_url, sim_b.base_url}
    for server in (sim_a, sim_b):  # an episode's two turns both reached its replica
        served = [e for e in episodes if e.extra["simulator_replicas"] == [server.base_url]]
        assert len(server.completion_requests) == 2 * len(served)


def test_an_actors_times_are_placed_in_the_middle_of_the_round_trip() -> None:
    from chatsim.distributed._simulators import ActorReply, _on_local_clock
    from chatsim.simulators import UserTurn

    # The actor's clock is 90 s ahead; it held the turn 1 s of a 2 s round trip.
    turn = UserTurn("hi", started_at=100.5, ended_at=101.0, queue_time=0.5)
    moved = _on_local_clock(ActorReply(turn, None, 100.0, 101.0), sent=10.0, got=12.0)
    assert (moved.started_at, moved.ended_at, moved.queue_time) == (11.0, 11.5, 0.5)
    assert (turn.started_at, turn.ended_at) == (100.5, 101.0)  # the actor's own left as is


async def test_an_hf_run_on_ray_loads_the_model_on_its_actor_not_in_the_driver(
    tiny_model: Any, lent_hf_actors: HfLender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.distributed import _driver

    monkeypatch.setattr(_driver, "launch_simulator_actors", lent_hf_actors.launch)
    from chatsim.runner import _prepare

    loaded: list[str] = []
    real = _prepare.create_simulator

    def no_model_here(spec: str, *args: Any) -> Any:
        loaded.append(spec)  # the driver would load the model here: it must not
        return real(spec, *args)

    monkeypatch.setattr("chatsim.runner._prepare.create_simulator", no_model_here)
    async with LoopbackServer(ReplyScript("The answer is A.")) as target:
        result = await chatsim.evaluate(
            model="vllm:assistant",
            base_url=target.base_url,
            simulator=tiny_model.spec,
            simulator_temperature=HF_SETTINGS.temperature,
            simulator_max_tokens=HF_SETTINGS.max_tokens,
            simulator_options=HF_SETTINGS.options,
            subset="college_math",
            limit=6,
            max_turns=2,
            out_dir=tmp_path,
            ray="local",
            workers=1,
        )
    assert loaded == []
    assert lent_hf_actors.returned  # the driver ended the actors it was given
    episodes = read_run(result.run_dir).episodes
    assert len(episodes) == 6
    for episode in episodes:
        (replica,) = episode.extra["simulator_replicas"]
        assert replica.startswith("actor-0@")
    firsts = [next(t for t in e.turns if t.role is Role.USER) for e in episodes]
    # The six first turns met in the actor's batcher: turns of one batch were generated
    # together, so they share the batch's generation time (their round trips differ).
    spans = [round((t.ended_at or 0) - (t.started_at or 0), 4) for t in firsts]
    assert len(set(spans)) < len(spans)
    assert all(t.queue_time is not None and t.queue_time > 0 for t in firsts)
