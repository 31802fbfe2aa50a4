"""A ``served:`` simulator on several replicas: episodes spread over them, each stays on one,
an unreachable replica's turns fail as simulator errors and new episodes avoid it."""

from __future__ import annotations

from collections import defaultdict
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

import chatsim
from chatsim import ConfigError, SimulatorError
from chatsim._util._clock import MonotonicWallClock
from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question
from chatsim.recording import read_run
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.simulators._contract import UserTurn, UserTurnRequest
from chatsim.simulators._registry import SimulatorSettings, create_simulator
from chatsim.simulators._served_fleet import ServedFleet
from chatsim.simulators._served_router import ReplicaRouter
from chatsim.targets import CallPolicy
from chatsim.testing import FakeClock, LoopbackServer, ReplyContext, ReplyScript
from chatsim.testing._faults import Fault, FaultKind

FAST = CallPolicy(backoff_initial=0.0, backoff_max=0.0, max_attempts=2, adaptive=False)


def _request(episode: int, exchanges: int) -> UserTurnRequest:
    history: list[Message] = []
    for k in range(exchanges):
        history += [Message(Role.USER, f"question {k}?"), Message(Role.ASSISTANT, f"reply {k}.")]
    return UserTurnRequest(
        episode_id=f"episode-{episode}",
        question=Question(
            id=f"q{episode}",
            subject="elementary_mathematics",
            stem=f"Which number is episode {episode}?",
            options=("1", "2", "3", "4"),
            gold="A",
        ),
        history=tuple(history),
        step=SimulatorStep.NEXT if exchanges else SimulatorStep.FIRST,
        seed=episode * 10 + exchanges,
    )


def _fleet(urls: list[str]) -> ServedFleet:
    settings = SimulatorSettings(base_url=",".join(urls), policy=FAST)
    fleet = create_simulator("served:chatbench", settings, MonotonicWallClock())
    assert isinstance(fleet, ServedFleet)
    return fleet


def _episodes_seen(server: LoopbackServer) -> set[int]:
    """The episodes whose prompts reached ``server`` (each prompt names its episode)."""
    seen = set()
    for recorded in server.completion_requests:
        prompt = recorded.body["prompt"]
        seen.add(int(prompt.split("Which number is episode ")[1].split("?")[0]))
    return seen


pytestmark_anyio = pytest.mark.anyio  # the sync tests below need none


@pytestmark_anyio
async def test_episodes_spread_over_the_replicas_and_each_stays_on_one() -> None:
    async with AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(LoopbackServer(ReplyScript(f"from replica {i}")))
            for i in range(3)
        ]
        fleet = _fleet([s.base_url for s in servers])
        served_by: dict[int, set[str]] = defaultdict(set)
        for exchanges in range(3):  # three turns of nine episodes, all in flight together
            turns = await fleet.generate([_request(e, exchanges) for e in range(9)])
            for episode, turn in enumerate(turns):
                assert turn.replica is not None
                served_by[episode].add(turn.replica)
                index = [s.base_url for s in servers].index(turn.replica)
                assert turn.text == f"from replica {index}"  # the reply came from there
                assert [a.outcome for a in turn.attempts] == ["ok"]
                assert turn.started_at is not None and turn.ended_at is not None
        await fleet.aclose()
    assert all(len(replicas) == 1 for replicas in served_by.values())  # pinned
    seen = [_episodes_seen(s) for s in servers]
    assert [len(episodes) for episodes in seen] == [3, 3, 3]  # spread evenly
    assert set().union(*seen) == set(range(9))
    assert all(len(s.completion_requests) == 9 for s in servers)  # 3 episodes x 3 turns


@pytestmark_anyio
async def test_an_unreachable_replica_fails_its_turns_and_new_episodes_avoid_it() -> None:
    async with LoopbackServer(ReplyScript("gone soon")) as dead:
        dead_url = dead.base_url  # its port is closed once the block ends
    async with LoopbackServer(ReplyScript("still here")) as live:
        fleet = _fleet([live.base_url, dead_url])
        with pytest.raises(BatchItemErrors) as info:  # episode 0 on live, 1 on dead
            await fleet.generate([_request(0, 0), _request(1, 0)])
        ok, failed = info.value.results
        assert isinstance(ok, UserTurn) and ok.replica == live.base_url
        assert isinstance(failed, SimulatorError)
        assert dead_url in str(failed)  # the error names the replica
        assert [a.outcome for a in failed.attempts] == ["transient", "transient"]
        assert fleet.router.is_down(1)
        # New episodes avoid the dead replica; the failed one, run again, moves too.
        turns = await fleet.generate([_request(e, 0) for e in (2, 3, 1)])
        await fleet.aclose()
    assert [t.replica for t in turns] == [live.base_url] * 3
    assert _episodes_seen(live) == {0, 1, 2, 3}


@pytestmark_anyio
async def test_a_refused_prompt_leaves_its_replica_up() -> None:
    async with LoopbackServer("fine") as a, LoopbackServer("fine") as b:
        a.inject(Fault(FaultKind.HTTP_ERROR, status=422))  # any replica would refuse it
        fleet = _fleet([a.base_url, b.base_url])
        with pytest.raises(SimulatorError, match="replica http"):
            await fleet.generate([_request(0, 0)])
        (turn,) = await fleet.generate([_request(1, 0)])
        await fleet.aclose()
    assert not fleet.router.is_down(0)
    assert turn.replica == b.base_url  # least-loaded: a tie, then the fewest placed


@pytestmark_anyio
async def test_records_name_each_episodes_replica(tmp_path: Path) -> None:
    def user(context: ReplyContext) -> str:
        return "Answer: A" if "It is A." in (context.prompt or "") else "Can you help me?"

    async with (
        LoopbackServer(ReplyScript("It is A.")) as target,
        LoopbackServer(ReplyScript(user)) as sim_a,
        LoopbackServer(ReplyScript(user)) as sim_b,
    ):
        result = await chatsim.evaluate(
            model="vllm:assistant",
            base_url=target.base_url,
            simulator="served:chatbench",
            simulator_base_url=f"{sim_a.base_url}, {sim_b.base_url}",
            subset="college_math",
            limit=4,
            repeats=2,
            out_dir=tmp_path,
        )
    run = read_run(result.run_dir)
    replicas = [e.extra["simulator_replicas"] for e in run.episodes]
    assert len(replicas) == 8
    assert all(len(r) == 1 for r in replicas)  # one replica per episode
    assert {r[0] for r in replicas} == {sim_a.base_url, sim_b.base_url}
    assert all(e.final_answer == "A" and len(e.turns) == 3 for e in run.episodes)
    assert run.header.config.simulator_base_url == f"{sim_a.base_url}, {sim_b.base_url}"


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ("http://a:8000/v1,http://a:8000/v1/", "lists a replica twice"),
        ("http://a:8000/v1,ftp://b/v1", "must be an http"),
        (" , ", "is empty"),
    ],
)
def test_a_bad_replica_list_is_refused(urls: str, message: str) -> None:
    settings = SimulatorSettings(base_url=urls)
    with pytest.raises(ConfigError, match=message):
        create_simulator("served:chatbench", settings, MonotonicWallClock())


def test_one_url_is_a_single_server_as_before() -> None:
    settings = SimulatorSettings(base_url="http://127.0.0.1:8000/v1")
    assert not isinstance(
        create_simulator("served:chatbench", settings, MonotonicWallClock()), ServedFleet
    )


def test_the_router_places_on_the_least_loaded_replica_then_pins() -> None:
    router = ReplicaRouter(3, clock=FakeClock())
    assert [router.acquire(f"e{i}") for i in range(4)] == [0, 1, 2, 0]  # in flight 2,1,1
    router.release(1)
    assert router.acquire("e4") == 1  # fewest turns in flight
    assert router.acquire("e1") == 1  # pinned, whatever the load
    router.release(0)
    router.release(0)
    assert router.acquire("e5") == 0  # in flight 0, 2, 1
    assert router.placed == [3, 2, 1]


def test_a_down_replica_is_avoided_until_its_cooldown_or_a_success() -> None:
    clock = FakeClock()
    router = ReplicaRouter(2, clock=clock, cooldown=30.0)
    assert router.acquire("e0") == 0
    assert router.acquire("e1") == 1
    router.release(1, replica_failed=True)
    assert router.acquire("e1") == 0  # its pin moves: the prompt is whole, only cache is lost
    assert router.acquire("e2") == 0
    clock.advance(30.0)
    assert router.acquire("e3") == 1  # back after the cooldown
    router.release(1, replica_failed=True)
    router.release(0, replica_failed=True)  # both down: placed anyway, the error recorded
    assert router.acquire("e4") in (0, 1)
    router.release(0)  # a success brings a replica back at once
    assert not router.is_down(0)


def test_pins_are_bounded_and_a_forgotten_episode_is_placed_again() -> None:
    router = ReplicaRouter(2, clock=FakeClock(), max_pins=2)
    for episode in ("e0", "e1", "e2"):
        router.acquire(episode)
    assert router.pinned("e0") is None and router.pinned("e2") is not None
    assert router.acquire("e0") in (0, 1)
    assert router.placed == [2, 2]
