"""chatsim's conformance suite on the Gemini wire, through both transports (``fast``: aiohttp and
the adapter's parser; ``sdk``: the official google-genai SDK end to end)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatsim.targets import TargetAdapter, TargetSettings
from chatsim.testing import (
    CONFORMANCE_CHECKS,
    GEMINI_WIRE,
    ConformanceCheck,
    GeminiLoopbackServer,
    run_conformance,
)
from chatsim_gemini import create_gemini_adapter
from chatsim_gemini._adapter import TRANSPORTS

pytestmark = pytest.mark.anyio


def maker(transport: str) -> Callable[[GeminiLoopbackServer], TargetAdapter]:
    def make_adapter(server: GeminiLoopbackServer) -> TargetAdapter:
        settings = TargetSettings(
            base_url=server.base_url, api_key=server.api_key, options={"transport": transport}
        )
        adapter = create_gemini_adapter("gemini-2.5-flash", settings)
        assert adapter.transport == transport
        return adapter

    return make_adapter


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck, transport: str) -> None:
    await check(maker(transport), wire=GEMINI_WIRE)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_run_conformance_passes(transport: str) -> None:
    names = await run_conformance(maker(transport), checks=CONFORMANCE_CHECKS[:3], wire=GEMINI_WIRE)
    assert names == ["streamed_reply", "non_streamed_reply", "request_fields"]
