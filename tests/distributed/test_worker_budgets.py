"""Each Ray episode worker takes its share of every budget the user set, so that N workers
together keep to it (not N times it), and a worker that cannot start says so at once.

In process, without Ray: the workers are built as the driver's actors would be."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from chatsim._exceptions import ConfigError, QuotaExceededError
from chatsim.config import RunConfig
from chatsim.distributed import _simulator_actor, _worker
from chatsim.distributed._budgets import shared_budgets
from chatsim.distributed._simulators import SimulatorActor, SimulatorActors
from chatsim.distributed._worker import EpisodeWorker
from chatsim.protocol import SimulatorStep
from chatsim.questions import load_questions
from chatsim.runner._prepare import plan_episodes
from chatsim.simulators import UserTurnRequest
from chatsim.simulators._served import ServedSimulator
from chatsim.simulators._served_fleet import ServedFleet
from chatsim.targets import CallPolicy, TargetCaller

pytestmark = pytest.mark.anyio

TARGET = "http://127.0.0.1:9/v1"  # nothing listens: no test here sends a request
SIMULATOR = "http://127.0.0.1:8/v1"


def _config(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "models": ["vllm:assistant"],
        "source": "college_math",
        "limit": 1,
        "base_url": TARGET,
        "simulator": "served:sim",
        "simulator_base_url": SIMULATOR,
    }
    return RunConfig(**(fields | overrides)).model_dump(mode="json")


@pytest.fixture
def workers() -> Iterator[list[EpisodeWorker]]:
    made: list[EpisodeWorker] = []
    yield made
    for worker in made:  # nothing connected: closing only drops the clients
        anyio.run(worker.pool.aclose)
        anyio.run(worker.simulator.aclose)


def _all(config: dict[str, Any], count: int, made: list[EpisodeWorker]) -> list[EpisodeWorker]:
    made += [EpisodeWorker(config, "budgets", count, rank=rank) for rank in range(count)]
    return made[-count:]


def _served_callers(worker: EpisodeWorker) -> list[TargetCaller]:
    simulator = worker.simulator
    if isinstance(simulator, ServedFleet):
        return [replica.caller for replica in simulator.replicas]
    assert isinstance(simulator, ServedSimulator)
    return [simulator.caller]


def _sums(policies: list[CallPolicy]) -> tuple[float, float, int]:
    return (
        sum(p.requests_per_minute or 0 for p in policies),
        sum(p.tokens_per_minute or 0 for p in policies),
        sum(p.max_concurrency for p in policies),
    )


def test_served_simulator_budgets_add_up_over_the_workers(workers: list[EpisodeWorker]) -> None:
    policy = {
        "simulator.requests_per_minute": 600,
        "simulator.tokens_per_minute": 90_000,
        "simulator.max_concurrency": 10,
    }
    four = _all(_config(policy=policy), 4, workers)
    shares = [_served_callers(w)[0].policy for w in four]
    assert _sums(shares) == (pytest.approx(600), pytest.approx(90_000), 10)
    assert [p.max_concurrency for p in shares] == [3, 3, 2, 2]
    caller = _served_callers(four[0])[0]
    four[0].reshare(1)  # the others finished: the whole budget, in place
    assert (caller.policy.requests_per_minute, caller.policy.max_concurrency) == (600, 10)
    assert caller.concurrency.maximum == 10


def test_served_default_slots_stay_sized_from_the_episodes_in_flight(
    workers: list[EpisodeWorker],
) -> None:
    (alone,) = _all(_config(policy={"simulator.requests_per_minute": 600}), 1, workers)
    two = _all(_config(policy={"simulator.requests_per_minute": 600}), 2, workers)
    whole = _served_callers(alone)[0].policy.max_concurrency
    for worker in two:
        share = _served_callers(worker)[0].policy
        assert share.requests_per_minute == 300
        assert share.max_concurrency == whole  # not set by the user: not shared


def test_each_window_is_one_processs_rule_on_its_share_of_the_call_slots(
    workers: list[EpisodeWorker],
) -> None:
    # One process: 2 x 8 slots x 1 model = 16 episodes at once; four workers, 2 slots each: 4.
    (alone,) = _all(_config(concurrency=8), 1, workers)
    four = _all(_config(concurrency=8), 4, workers)
    assert alone.in_flight == 16
    assert [w.in_flight for w in four] == [4, 4, 4, 4]
    assert sum(w.callers["vllm:assistant"].policy.max_concurrency for w in four) == 8
    four[0].reshare(2, 0)  # two left: its window grows with its slots
    assert four[0].in_flight == 8


def test_each_replica_of_a_served_fleet_is_shared(workers: list[EpisodeWorker]) -> None:
    config = _config(
        simulator_base_url=f"{SIMULATOR},http://127.0.0.1:7/v1",
        policy={"simulator.requests_per_minute": 600, "simulator.max_concurrency": 8},
    )
    two = _all(config, 2, workers)
    for replica in range(2):  # the budget holds for each replica, as in one process
        shares = [_served_callers(w)[replica].policy for w in two]
        assert _sums(shares)[0] == pytest.approx(600) and _sums(shares)[2] == 8


def test_a_prompted_simulators_own_slots_are_shared_when_the_user_set_them(
    workers: list[EpisodeWorker],
) -> None:
    config = _config(simulator="prompted:vllm:user", policy={"simulator.max_concurrency": 6})
    four = _all(config, 4, workers)
    users = [next(c for _, c in w.pool if c not in w.callers.values()) for w in four]
    assert [u.policy.max_concurrency for u in users] == [2, 2, 1, 1]


def test_episodes_in_flight_are_shared_by_rank(workers: list[EpisodeWorker]) -> None:
    four = _all(_config(max_episodes_in_flight=10), 4, workers)
    assert [w.in_flight for w in four] == [3, 3, 2, 2]
    assert four[3]._wants() == 4  # twice its share: what it asks the driver for
    four[3].reshare(2, rank=1)  # two left: ranks close, no share shrinks
    assert four[3].in_flight == 5
    (many,) = _all(_config(max_episodes_in_flight=2), 1, workers)
    many.reshare(3, rank=2)
    assert many.in_flight == 1  # at least one
    assert shared_budgets(RunConfig.model_validate(_config(max_episodes_in_flight=2))) == [2]


async def test_a_live_window_is_resized_without_losing_slots(
    workers: list[EpisodeWorker],
) -> None:
    (worker,) = _all(_config(max_episodes_in_flight=8, simulator="scripted"), 1, workers)
    worker.reshare(2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.serve)
        await worker.ready.wait()
        window = worker._slots
        assert window.total_tokens == 4
        held = [object() for _ in range(4)]
        for episode in held:  # four episodes running
            window.acquire_on_behalf_of_nowait(episode)
        worker.reshare(4, rank=3)  # shrinks to 2: the four running keep their slots
        assert (window.total_tokens, window.borrowed_tokens) == (2, 4)
        worker.reshare(1)  # grows to 8: room for four more at once
        assert window.available_tokens == 4 and worker.in_flight == 8
        for episode in held:
            window.release_on_behalf_of(episode)
        await worker.stop()


async def test_the_hf_sizing_still_raises_the_window(workers: list[EpisodeWorker]) -> None:
    (worker,) = _all(_config(max_episodes_in_flight=4, simulator="scripted"), 1, workers)
    actors = SimulatorActors("hf:x", (None, None), ("a", "b"), max_batch_size=8)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.serve, actors)
        await worker.ready.wait()
        assert worker.in_flight == 32 and worker._slots.total_tokens == 32
        worker.reshare(2)
        assert worker.in_flight == 32  # the actors' need, not the user's share (2)
        await worker.stop()


@asynccontextmanager
async def _refusing(*_: Any) -> AsyncIterator[Any]:
    raise ConfigError("simulator option max_wait must be seconds >= 0, got -1")
    yield  # pragma: no cover


async def test_a_worker_that_cannot_start_replies_with_why(
    workers: list[EpisodeWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "open_turn_source", _refusing)
    (worker,) = _all(_config(simulator="scripted"), 1, workers)
    await worker.serve()  # returns: the failure is the exchanges' to report
    plans = plan_episodes(worker.config, load_questions("college_math", limit=1))
    with anyio.fail_after(30):  # a guard: before the fix, this waited for ever
        reply = await worker.exchange(plans, True, 1, 0)
    assert reply.failure is not None and reply.failure.kind == "start"
    assert "ConfigError: simulator option max_wait" in reply.failure.message
    assert (reply.records, reply.wants, reply.holding) == ([], 0, 0)


async def test_a_spent_quota_is_not_reported_as_a_refused_key(
    workers: list[EpisodeWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def spent(*_: Any) -> Any:
        raise QuotaExceededError("insufficient_quota: check your plan", status_code=429)

    monkeypatch.setattr(_worker, "run_episode", spent)
    (worker,) = _all(_config(simulator="scripted"), 1, workers)
    plans = plan_episodes(worker.config, load_questions("college_math", limit=1))
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.serve)
        reply = await worker.exchange(plans, False, 1, 0)
        await worker.stop()
    assert reply.failure is not None
    assert (reply.failure.kind, reply.failure.episode_id) == ("quota", plans[0].episode_id)
    assert "insufficient_quota" in reply.failure.message


def _actor(spec: str = "scripted") -> SimulatorActor:
    return SimulatorActor(spec, {"temperature": 1.0, "max_tokens": 64, "options": {}}, "actor-0")


async def test_a_simulator_actor_that_cannot_start_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_simulator_actor, "open_turn_source", _refusing)
    actor = _actor()
    with pytest.raises(ConfigError):
        await actor.serve()
    with pytest.raises(ConfigError, match="max_wait"):
        await actor.ready()
    (question,) = load_questions("college_math", limit=1)
    request = UserTurnRequest("e1", question, (), SimulatorStep.FIRST, seed=1)
    reply = await actor.turn(request)  # answered with why, not a wait that never ends
    assert reply.turn is None and reply.error is not None
    assert "actor-0 could not start" in reply.error and "max_wait" in reply.error
    assert await actor.stats() is None


async def test_a_simulator_actor_whose_model_cannot_load_says_so() -> None:
    actor = _actor("nonesuch:x")
    with pytest.raises(ConfigError):
        await actor.serve()
    with pytest.raises(ConfigError):
        await actor.ready()
