"""chatsim's conformance suite on the Anthropic wire, through both transports (``fast``:
aiohttp and the adapter's own SSE reader; ``sdk``: the official anthropic SDK)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatsim.targets import TargetAdapter, TargetSettings
from chatsim.testing import (
    ANTHROPIC_WIRE,
    CONFORMANCE_CHECKS,
    AnthropicLoopbackServer,
    ConformanceCheck,
    run_conformance,
)
from chatsim_anthropic import TRANSPORTS, anthropic_adapter

pytestmark = pytest.mark.anyio


def maker(transport: str) -> Callable[[AnthropicLoopbackServer], TargetAdapter]:
    def make(server: AnthropicLoopbackServer) -> TargetAdapter:
        settings = TargetSettings(
            base_url=server.base_url, api_key=server.api_key, options={"transport": transport}
        )
        return anthropic_adapter("claude-test", settings)

    return make


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck, transport: str) -> None:
    await check(maker(transport), wire=ANTHROPIC_WIRE)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_run_conformance_passes(transport: str) -> None:
    names = await run_conformance(maker(transport), wire=ANTHROPIC_WIRE)
    assert names == [check.name for check in CONFORMANCE_CHECKS]
