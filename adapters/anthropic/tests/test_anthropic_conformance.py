"""chatsim's conformance suite on the Anthropic wire, through the official anthropic SDK."""

from __future__ import annotations

import pytest

from chatsim.targets import TargetAdapter, TargetSettings
from chatsim.testing import (
    ANTHROPIC_WIRE,
    CONFORMANCE_CHECKS,
    AnthropicLoopbackServer,
    ConformanceCheck,
    run_conformance,
)
from chatsim_anthropic import anthropic_adapter

pytestmark = pytest.mark.anyio


def make_adapter(server: AnthropicLoopbackServer) -> TargetAdapter:
    settings = TargetSettings(base_url=server.base_url, api_key=server.api_key)
    return anthropic_adapter("claude-test", settings)


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck) -> None:
    await check(make_adapter, wire=ANTHROPIC_WIRE)


async def test_run_conformance_passes() -> None:
    names = await run_conformance(make_adapter, wire=ANTHROPIC_WIRE)
    assert names == [check.name for check in CONFORMANCE_CHECKS]
