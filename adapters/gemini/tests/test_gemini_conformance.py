"""chatsim's conformance suite, through the official SDK and the Gemini front of its server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from chatsim.targets import TargetAdapter, TargetSettings
from chatsim.testing import CONFORMANCE_CHECKS, ConformanceCheck, LoopbackServer, run_conformance
from chatsim_gemini import create_gemini_adapter
from chatsim_gemini.testing import GeminiLoopbackServer

pytestmark = pytest.mark.anyio

Maker = Callable[[LoopbackServer], Awaitable[TargetAdapter]]


@pytest.fixture
async def make_adapter() -> AsyncIterator[Maker]:
    """Fronts each check's OpenAI-protocol server with the Gemini API; closes the fronts."""
    fronts: list[GeminiLoopbackServer] = []

    async def make(server: LoopbackServer) -> TargetAdapter:
        front = GeminiLoopbackServer(upstream=server)
        await front.start()
        fronts.append(front)
        settings = TargetSettings(base_url=front.base_url, api_key=server.api_key)
        return create_gemini_adapter("gemini-2.5-flash", settings)

    try:
        yield make
    finally:
        for front in fronts:
            await front.close()


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck, make_adapter: Maker) -> None:
    await check(make_adapter)


async def test_run_conformance_passes(make_adapter: Maker) -> None:
    names = await run_conformance(make_adapter, checks=CONFORMANCE_CHECKS[:3])
    assert names == ["streamed_reply", "non_streamed_reply", "request_fields"]
