"""chatsim's conformance suite on the Gemini wire, through the official google-genai SDK."""

from __future__ import annotations

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

pytestmark = pytest.mark.anyio


def make_adapter(server: GeminiLoopbackServer) -> TargetAdapter:
    settings = TargetSettings(base_url=server.base_url, api_key=server.api_key)
    return create_gemini_adapter("gemini-2.5-flash", settings)


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck) -> None:
    await check(make_adapter, wire=GEMINI_WIRE)


async def test_run_conformance_passes() -> None:
    names = await run_conformance(make_adapter, checks=CONFORMANCE_CHECKS[:3], wire=GEMINI_WIRE)
    assert names == ["streamed_reply", "non_streamed_reply", "request_fields"]
