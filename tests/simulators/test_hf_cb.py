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


async def test_selected_by_the_scheduler_option(tiny_model: Any) -> None:
    """``--simulator-option scheduler=continuous`` picks this backend through the registry."""
    from chatsim._util._clock import MonotonicWallClock
    from chatsim.protocol import SimulatorStep
    from chatsim.questions import Question
    from chatsim.simulators import SimulatorSettings, create_simulator

    settings = SimulatorSettings(
        max_tokens=16, options={"scheduler": "continuous", "temperature": 0.0}
    )
    spec = f"hf:{tiny_model.base}+{tiny_model.adapter}"
    sim = create_simulator(spec, settings, MonotonicWallClock())
    assert isinstance(sim, ContinuousHFSimulator)
    question = Question(id="q", subject="elementary_mathematics", stem="What is 2 + 3?",
                        options=("5", "6", "4", "1"), gold="A")  # fmt: skip
    try:
        (turn,) = await sim.generate([UserTurnRequest("e", question, (), SimulatorStep.FIRST, 1)])
    finally:
        await sim.aclose()
    assert turn.text and "[END]" not in turn.text


def test_an_unknown_scheduler_is_refused(tiny_model: Any) -> None:
    from chatsim._exceptions import ConfigError
    from chatsim._util._clock import MonotonicWallClock
    from chatsim.simulators import SimulatorSettings, create_simulator

    spec = f"hf:{tiny_model.base}+{tiny_model.adapter}"
    with pytest.raises(ConfigError, match="unknown scheduler 'fast'; use batch or continuous"):
        create_simulator(
            spec, SimulatorSettings(options={"scheduler": "fast"}), MonotonicWallClock()
        )
