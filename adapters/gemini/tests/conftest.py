"""Fixtures for the Gemini adapter's tests: asyncio, a clean environment, a served adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chatsim.targets import TargetSettings
from chatsim.testing import Latency, ReplyScript
from chatsim_gemini import GeminiAdapter, create_gemini_adapter
from chatsim_gemini.testing import GeminiLoopbackServer

KEY = "AIzaSy-test-planted-secret-0123456789"
ENV = ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def server() -> AsyncIterator[GeminiLoopbackServer]:
    script = ReplyScript("The answer is (B).", latency=Latency.ms(first_token=5, inter_token=2))
    async with GeminiLoopbackServer(script, api_key=KEY) as served:
        yield served


@pytest.fixture
async def adapter(server: GeminiLoopbackServer) -> AsyncIterator[GeminiAdapter]:
    made = create_gemini_adapter(
        "gemini-2.5-flash", TargetSettings(base_url=server.base_url, api_key=KEY)
    )
    try:
        yield made
    finally:
        await made.aclose()
