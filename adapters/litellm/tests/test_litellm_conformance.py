"""chatsim's conformance suite through litellm (``litellm:openai/...``), against the loopback
server, which speaks the OpenAI protocol that litellm's ``openai`` provider sends."""

from __future__ import annotations

import pytest

from chatsim.targets import TargetSettings
from chatsim.testing import CONFORMANCE_CHECKS, ConformanceCheck, LoopbackServer, run_conformance
from chatsim_litellm import LiteLLMAdapter, litellm_adapter

pytestmark = pytest.mark.anyio


def make_adapter(server: LoopbackServer) -> LiteLLMAdapter:
    settings = TargetSettings(base_url=server.base_url, api_key=server.api_key)
    return litellm_adapter("openai/gpt-4o", settings)


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck) -> None:
    await check(make_adapter)


async def test_run_conformance_passes() -> None:
    names = await run_conformance(make_adapter, checks=CONFORMANCE_CHECKS[:3])
    assert names == ["streamed_reply", "non_streamed_reply", "request_fields"]
