"""Fixtures for the Gemini adapter's tests: asyncio, a clean environment, a served adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatsim.targets import TargetSettings
from chatsim.testing import Latency, ReplyScript
from chatsim_gemini import GeminiAdapter, _vertex_auth, create_gemini_adapter
from chatsim_gemini.testing import GeminiLoopbackServer

KEY = "AIzaSy-test-planted-secret-0123456789"
ENV = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_API_VERSION",
    # Vertex AI: project, location, endpoint and every source of Application Default
    # Credentials, so no test finds the machine's own login or asks a metadata server.
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCE_METADATA_HOST",
    "GCE_METADATA_ROOT",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    # gcloud's ADC file and the DMI product name: looked up in empty places.
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setattr(_vertex_auth, "_DMI_PRODUCT", tmp_path / "no-dmi" / "product_name")


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
