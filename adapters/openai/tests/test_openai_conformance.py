"""The chatsim conformance suite, through both transports, against the loopback server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatsim.targets import TargetSettings
from chatsim.testing._conformance import CONFORMANCE_CHECKS, ConformanceCheck, run_conformance
from chatsim.testing._server import LoopbackServer
from chatsim_openai import OpenAIAdapter, azure_adapter, openai_adapter, vllm_adapter

pytestmark = pytest.mark.anyio


def maker(profile: str, transport: str) -> Callable[[LoopbackServer], OpenAIAdapter]:
    def make(server: LoopbackServer) -> OpenAIAdapter:
        options = {"transport": transport}
        if profile == "azure":
            settings = TargetSettings(
                base_url=server.root_url, api_key=server.api_key, api_version="2024-10-21",
                options=options,
            )  # fmt: skip
            return azure_adapter("my-deployment", settings)
        settings = TargetSettings(base_url=server.base_url, api_key=server.api_key, options=options)
        factory = openai_adapter if profile == "openai" else vllm_adapter
        return factory("gpt-4o", settings)

    return make


@pytest.mark.parametrize("transport", ["fast", "sdk"])
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck, transport: str) -> None:
    await check(maker("vllm", transport))


@pytest.mark.parametrize("transport", ["fast", "sdk"])
@pytest.mark.parametrize("profile", ["openai", "azure"])
async def test_every_profile_conforms(profile: str, transport: str) -> None:
    names = await run_conformance(maker(profile, transport), checks=CONFORMANCE_CHECKS[:3])
    assert names == ["streamed_reply", "non_streamed_reply", "request_fields"]
