"""The size-or-deadline micro-batcher, with a scripted backend (no model, no real waits)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import pytest

from chatsim import SimulatorError
from chatsim.simulators._batcher import BatchItemErrors, MicroBatcher
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest

pytestmark = pytest.mark.anyio

Requests = Callable[..., list[UserTurnRequest]]


class Backend(SimulatorBackend):
    """Records each batch; optionally holds every batch until ``release()``."""

    batched = True

    def __init__(self, max_batch_size: int = 64, *, hold: bool = False) -> None:
        self.max_batch_size = max_batch_size
        self.batches: list[list[str]] = []
        self.hold = hold
        self.gate = anyio.Event()
        self.running = anyio.Event()
        self.fail: Callable[[list[UserTurnRequest]], None] | None = None

    def release(self) -> None:
        self.gate.set()

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        self.batches.append([r.episode_id for r in requests])
        self.running.set()
        if self.hold:
            await self.gate.wait()
            self.gate, self.running = anyio.Event(), anyio.Event()
        if self.fail is not None:
            self.fail(list(requests))
        return [UserTurn(text=f"turn of {r.episode_id}") for r in requests]


async def _gather(batcher: MicroBatcher, requests: list[UserTurnRequest]) -> list[Any]:
    results: list[Any] = [None] * len(requests)

    async def one(index: int) -> None:
        try:
            results[index] = await batcher.request(requests[index])
        except SimulatorError as exc:
            results[index] = exc

    async with anyio.create_task_group() as tg:
        for index in range(len(requests)):
            tg.start_soon(one, index)
    return results


async def test_a_full_batch_fires_without_waiting_for_the_deadline(
    requests_factory: Requests,
) -> None:
    backend = Backend(max_batch_size=4)
    with anyio.fail_after(5):  # max_wait is an hour: only the size trigger can fire
        async with MicroBatcher(backend, max_wait=3600) as batcher:
            turns = await _gather(batcher, requests_factory(4))
    assert backend.batches == [["e0", "e1", "e2", "e3"]]
    assert [t.text for t in turns] == [f"turn of e{i}" for i in range(4)]


async def test_a_partial_batch_fires_at_the_deadline(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=64)
    async with MicroBatcher(backend, max_wait=0.02) as batcher:
        before = anyio.current_time()
        turns = await _gather(batcher, requests_factory(3))
        waited = anyio.current_time() - before
    assert backend.batches == [["e0", "e1", "e2"]]
    assert waited >= 0.02
    assert all(t.queue_time >= 0.015 for t in turns)


async def test_arrivals_collect_while_the_previous_batch_runs(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=64, hold=True)
    requests = requests_factory(6)
    async with MicroBatcher(backend, max_wait=0) as batcher, anyio.create_task_group() as tg:
        tg.start_soon(batcher.request, requests[0])
        await backend.running.wait()  # batch 1 is generating
        for request in requests[1:]:
            tg.start_soon(batcher.request, request)
        await anyio.wait_all_tasks_blocked()
        assert len(backend.batches) == 1  # the others wait for the GPU, collecting
        backend.release()
        await backend.running.wait()
        backend.release()
    assert backend.batches == [["e0"], ["e1", "e2", "e3", "e4", "e5"]]


class Preparing(Backend):
    """Prepares each turn (records it); a turn whose episode id ends in "x" cannot be."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.prepared: list[str] = []

    async def prepare(self, request: UserTurnRequest) -> UserTurnRequest:
        if request.episode_id.endswith("x"):
            raise SimulatorError(f"{request.episode_id}: prompt over budget")
        self.prepared.append(request.episode_id)
        return dataclasses.replace(request, prepared=(f"prompt of {request.episode_id}", False))

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        assert all(r.prepared == (f"prompt of {r.episode_id}", False) for r in requests)
        return await super().generate(requests)


async def test_turns_are_prepared_as_they_arrive_while_the_previous_batch_runs(
    requests_factory: Requests,
) -> None:
    backend = Preparing(max_batch_size=64, hold=True)
    requests = requests_factory(4)
    async with MicroBatcher(backend, max_wait=0) as batcher, anyio.create_task_group() as tg:
        tg.start_soon(batcher.request, requests[0])
        await backend.running.wait()  # batch 1 is generating
        for request in requests[1:]:
            tg.start_soon(batcher.request, request)
        await anyio.wait_all_tasks_blocked()
        assert backend.prepared == ["e0", "e1", "e2", "e3"]  # before their batch starts
        backend.release()
        await backend.running.wait()
        backend.release()
    assert backend.batches == [["e0"], ["e1", "e2", "e3"]]


async def test_a_turn_that_cannot_be_prepared_fails_alone(requests_factory: Requests) -> None:
    backend = Preparing()
    requests = requests_factory(3)
    requests[1] = dataclasses.replace(requests[1], episode_id="e1x")
    async with MicroBatcher(backend, max_wait=0.01) as batcher:
        results = await _gather(batcher, requests)
    assert isinstance(results[1], SimulatorError) and "over budget" in str(results[1])
    assert [r.text for r in (results[0], results[2])] == ["turn of e0", "turn of e2"]
    assert backend.batches == [["e0", "e2"]]


async def test_a_turn_still_preparing_when_the_batcher_closes_is_refused_not_stranded(
    requests_factory: Requests,
) -> None:
    gate = anyio.Event()

    class SlowPrepare(Backend):
        async def prepare(self, request: UserTurnRequest) -> UserTurnRequest:
            await gate.wait()
            return request

    backend = SlowPrepare()
    outcome: list[object] = []

    async def late(batcher: MicroBatcher) -> None:
        try:
            outcome.append(await batcher.request(requests_factory(1)[0]))
        except SimulatorError as exc:
            outcome.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            async with MicroBatcher(backend, max_wait=0) as batcher:
                tg.start_soon(late, batcher)
                await anyio.wait_all_tasks_blocked()  # it is preparing
            gate.set()  # the batcher closed (its collector gone); the preparation ends now
    (result,) = outcome
    assert isinstance(result, SimulatorError) and "closed" in str(result)
    assert backend.batches == []


async def test_a_failed_batch_fails_each_of_its_waiters(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=3)

    def boom(requests: list[UserTurnRequest]) -> None:
        if requests[0].episode_id == "e0":
            raise RuntimeError("CUDA error: unspecified launch failure")

    backend.fail = boom
    async with MicroBatcher(backend, max_wait=3600) as batcher:
        results = await _gather(batcher, requests_factory(6))
    failed, ok = results[:3], results[3:]
    assert all(isinstance(r, SimulatorError) for r in failed)
    assert len({id(r) for r in failed}) == 3  # one error object per waiter
    assert all(isinstance(r.__cause__, RuntimeError) for r in failed)
    assert "launch failure" in str(failed[0])
    assert [t.text for t in ok] == ["turn of e3", "turn of e4", "turn of e5"]


async def test_item_errors_fail_only_their_turns(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=3)

    def partly(requests: list[UserTurnRequest]) -> None:
        raise BatchItemErrors(
            [UserTurn(text="fine"), SimulatorError("prompt too long"), UserTurn(text="also")]
        )

    backend.fail = partly
    async with MicroBatcher(backend, max_wait=3600) as batcher:
        results = await _gather(batcher, requests_factory(3))
    assert results[0].text == "fine" and results[2].text == "also"
    assert isinstance(results[1], SimulatorError) and "too long" in str(results[1])


async def test_a_wrong_number_of_turns_is_an_error(requests_factory: Requests) -> None:
    class Short(Backend):
        async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
            return (await super().generate(requests))[:-1]

    async with MicroBatcher(Short(max_batch_size=2), max_wait=3600) as batcher:
        results = await _gather(batcher, requests_factory(2))
    assert all("1 turns for a batch of 2" in str(r) for r in results)


async def test_a_cancelled_waiter_does_not_disturb_the_others(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=64, hold=True)
    requests = requests_factory(4)
    results: dict[str, str] = {}

    async def keep(request: UserTurnRequest) -> None:
        results[request.episode_id] = (await batcher.request(request)).text

    async with MicroBatcher(backend, max_wait=0) as batcher, anyio.create_task_group() as tg:
        tg.start_soon(keep, requests[0])
        await backend.running.wait()
        tg.start_soon(keep, requests[2])
        tg.start_soon(keep, requests[3])
        async with anyio.create_task_group() as doomed:  # queued behind batch 1, then cancelled
            doomed.start_soon(keep, requests[1])
            await anyio.wait_all_tasks_blocked()
            doomed.cancel_scope.cancel()
        backend.release()
        await backend.running.wait()
        backend.release()
    assert backend.batches == [["e0"], ["e2", "e3"]]
    assert results == {"e0": "turn of e0", "e2": "turn of e2", "e3": "turn of e3"}


async def test_cancelling_a_waiter_of_a_running_batch_spares_its_mates(
    requests_factory: Requests,
) -> None:
    backend = Backend(max_batch_size=2, hold=True)
    requests = requests_factory(2)
    results: dict[str, str] = {}

    async def keep(request: UserTurnRequest) -> None:
        results[request.episode_id] = (await batcher.request(request)).text

    async with MicroBatcher(backend, max_wait=3600) as batcher, anyio.create_task_group() as tg:
        tg.start_soon(keep, requests[0])
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(keep, requests[1])
            await backend.running.wait()  # the batch of both is generating
            doomed.cancel_scope.cancel()
        backend.release()
    assert backend.batches == [["e0", "e1"]]
    assert results == {"e0": "turn of e0"}


async def test_stats_report_fill_queue_time_and_busy_time(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=4)
    async with MicroBatcher(backend, max_wait=3600) as batcher:
        await _gather(batcher, requests_factory(8))
        stats = batcher.stats
    assert (stats.batches, stats.requests) == (2, 8)
    assert stats.mean_batch_size == 4 and stats.mean_fill == 1.0
    assert stats.mean_queue_time >= 0 and stats.max_queue_time >= stats.mean_queue_time
    assert stats.wall_time >= stats.busy_time >= 0
    assert 0 <= stats.busy_fraction <= 1


async def test_pending_turns_are_bounded(requests_factory: Requests) -> None:
    backend = Backend(max_batch_size=64, hold=True)
    async with (
        MicroBatcher(backend, max_wait=0, max_pending=2) as batcher,
        anyio.create_task_group() as tg,
    ):
        for request in requests_factory(3):
            tg.start_soon(batcher.request, request)
        await anyio.wait_all_tasks_blocked()
        admitted = [e for batch in backend.batches for e in batch]
        assert "e2" not in admitted  # waiting for a slot, not queued
        assert len(admitted) + batcher._live == 2
        while sum(map(len, backend.batches)) < 3:
            backend.release()
            await anyio.wait_all_tasks_blocked()
        backend.release()
    assert sorted(e for batch in backend.batches for e in batch) == ["e0", "e1", "e2"]


async def test_leaving_the_block_flushes_queued_turns_then_refuses(
    requests_factory: Requests,
) -> None:
    backend = Backend(max_batch_size=64)
    requests = requests_factory(3)
    texts: list[str] = []

    async def keep(request: UserTurnRequest) -> None:
        texts.append((await batcher.request(request)).text)

    async with anyio.create_task_group() as tg, MicroBatcher(backend, max_wait=3600) as batcher:
        for request in requests:
            tg.start_soon(keep, request)
        await anyio.wait_all_tasks_blocked()
        assert backend.batches == []  # the deadline is an hour away
    assert backend.batches == [["e0", "e1", "e2"]]
    assert len(texts) == 3
    with pytest.raises(SimulatorError, match="closed"):
        await batcher.request(requests[0])


async def test_micro_batcher_over_the_tiny_model(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    from chatsim.simulators._hf import HFSimulator

    sim = HFSimulator(tiny_engine)
    requests = requests_factory(6)
    direct = [t.text for t in await sim.generate(requests)]
    async with MicroBatcher(sim, max_batch_size=4, max_wait=0.005) as batcher:
        turns = await _gather(batcher, requests)
        stats = batcher.stats
    assert [t.text for t in turns] == direct
    assert stats.requests == 6 and stats.batches >= 2
