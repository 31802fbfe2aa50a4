"""The public test doubles for time and adapter registration: FakeClock, registered_adapter."""

from __future__ import annotations

import time

import anyio
import pytest

import chatsim.targets
import chatsim.testing
from chatsim import UnknownNameError
from chatsim._util._clock import Clock
from chatsim.targets import (
    TargetSettings,
    available_adapters,
    create_adapter,
    register_adapter,
    unregister_adapter,
)
from chatsim.testing import FakeClock, FakeTarget, registered_adapter


def test_the_names_are_public() -> None:
    assert {"FakeClock", "registered_adapter"} <= set(chatsim.testing.__all__)
    assert "unregister_adapter" in chatsim.targets.__all__


def test_fake_clock_stands_still_until_advanced() -> None:
    clock: Clock = FakeClock(100.0)  # conforms to the clock chatsim takes
    assert clock.now() == clock.now() == 100.0
    assert isinstance(clock, FakeClock)
    clock.advance(2.5)
    assert clock.now() == 102.5
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1.0)
    assert clock.now() == 102.5


@pytest.mark.anyio
async def test_fake_sleep_returns_at_once_and_moves_the_clock() -> None:
    clock = FakeClock()
    start = clock.now()
    began = time.perf_counter()
    await clock.sleep(3600.0)
    await clock.sleep(-5.0)  # like anyio.sleep: a negative duration does not wait
    assert time.perf_counter() - began < 1.0
    assert clock.now() == start + 3600.0
    assert clock.sleeps == [3600.0, -5.0]


@pytest.mark.anyio
async def test_fake_sleep_lets_started_tasks_run_before_the_jump() -> None:
    clock = FakeClock(0.0)
    seen: list[float] = []

    async def note() -> None:
        seen.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(note)
        await clock.sleep(10.0)
    assert seen == [0.0] and clock.now() == 10.0


def _fake(model: str, settings: TargetSettings) -> FakeTarget:
    return FakeTarget(default="B")


def test_registered_adapter_is_gone_after_the_block_even_on_an_error() -> None:
    def use_and_fail() -> None:
        with registered_adapter("tmpfake", _fake):
            assert "tmpfake" in available_adapters()
            assert isinstance(create_adapter("tmpfake:m"), FakeTarget)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_and_fail()
    assert "tmpfake" not in available_adapters()
    with pytest.raises(UnknownNameError):
        create_adapter("tmpfake:m")


def test_registered_adapter_restores_an_earlier_registration() -> None:
    outer_target, inner_target = FakeTarget(), FakeTarget()
    assert register_adapter("tmpfake", lambda model, settings: outer_target) is None
    try:
        with registered_adapter("tmpfake", lambda model, settings: inner_target):
            assert create_adapter("tmpfake:m") is inner_target
        assert create_adapter("tmpfake:m") is outer_target  # put back, not dropped
    finally:
        unregister_adapter("tmpfake")


def test_unregister_adapter_ignores_unknown_names() -> None:
    assert unregister_adapter("never-registered") is None
