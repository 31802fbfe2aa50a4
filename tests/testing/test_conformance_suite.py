"""The conformance suite fails adapters that break the contract, and says why."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest
from chatsim.testing._conformance import (
    CONFORMANCE_CHECKS,
    ConformanceCheck,
    ConformanceFailure,
    run_conformance,
)
from chatsim.testing._server import LoopbackServer

pytestmark = pytest.mark.anyio


class Liar(TargetAdapter):
    """Never calls the server; always 'succeeds'."""

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        return AdapterReply(text="made up")


class Leaky(TargetAdapter):
    """Lets a foreign error out."""

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        raise ValueError("socket said no")


def checks(*names: str) -> list[ConformanceCheck]:
    return [c for c in CONFORMANCE_CHECKS if c.name in names]


async def test_names_every_failed_check() -> None:
    with pytest.raises(ConformanceFailure) as info:
        await run_conformance(lambda server: Liar(), checks=checks("streamed_reply", "rate_limits"))
    message = str(info.value)
    assert "streamed_reply: streamed text 'made up'" in message
    assert "rate_limits: rate_limit: expected RateLimitError, got a reply 'made up'" in message


async def test_foreign_errors_are_named() -> None:
    async def make(server: LoopbackServer) -> TargetAdapter:
        return Leaky()

    with pytest.raises(ConformanceFailure, match="raised foreign ValueError"):
        await run_conformance(make, checks=checks("rate_limits"))


def test_check_names_are_unique() -> None:
    names = [c.name for c in CONFORMANCE_CHECKS]
    assert len(names) == len(set(names)) >= 9
