"""The experimental continuous-batching backend, on the tiny model (CPU, small cache)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from chatsim.simulators._contract import UserTurn, UserTurnRequest
from chatsim.simulators._hf import HFSimulator
from chatsim.simulators._hf_cb import ContinuousHFSimulator

pytestmark = pytest.mark.anyio

# Small on purpose: on a CPU the manager's dense masks are max_batch_tokens x cache tokens.
CONFIG = {
    "num_blocks": 64,
    "page_size": 64,
    "max_batch_tokens": 512,
    "max_requests_per_batch": 16,
    "use_cuda_graph": False,
    "allow_block_sharing": False,
}


async def test_matches_greedy_generate_and_stops_at_end(
    tiny_engine: Any, requests_factory: Callable[..., list[UserTurnRequest]]
) -> None:
    requests = requests_factory(6)
    expected = [t.text for t in await HFSimulator(tiny_engine).generate(requests)]
    sim = ContinuousHFSimulator(tiny_engine, cb_config=CONFIG)
    try:
        results: list[UserTurn | None] = [None] * len(requests)

        async def one(index: int) -> None:  # concurrent first calls share one manager
            (results[index],) = await sim.generate([requests[index]])

        async with anyio.create_task_group() as tg:
            for index in range(len(requests)):
                tg.start_soon(one, index)
        manager = sim._manager
        assert [t.text for t in results if t is not None] == expected
        assert all("[END]" not in t.text for t in results if t is not None)
        turns = await sim.generate(requests[:2])
        assert sim._manager is manager
        assert [t.text for t in turns] == expected[:2]
        assert all(t.usage is not None and t.usage.completion_tokens > 0 for t in turns)
    finally:
        await sim.aclose()
