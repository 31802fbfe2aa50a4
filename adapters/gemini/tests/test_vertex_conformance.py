"""chatsim's conformance suite on the Gemini wire's Vertex AI paths, through the ``vertex``
profile (bearer token, projects/locations path), through both transports; every request must
take that path."""

from __future__ import annotations

import pytest
from google.oauth2.credentials import Credentials

from chatsim.targets import TargetAdapter, TargetSettings
from chatsim.testing import (
    CONFORMANCE_CHECKS,
    GEMINI_WIRE,
    ConformanceCheck,
    GeminiLoopbackServer,
    run_conformance,
)
from chatsim_gemini import create_vertex_adapter
from chatsim_gemini._adapter import TRANSPORTS

pytestmark = pytest.mark.anyio


class VertexAdapters:
    """``make_adapter`` for the suite: the server's key is the one valid access token."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.servers: list[GeminiLoopbackServer] = []

    def __call__(self, server: GeminiLoopbackServer) -> TargetAdapter:
        self.servers.append(server)
        options = {
            "credentials": Credentials(token=server.api_key),
            "project": "conformance-project",
            "location": "us-central1",
            "transport": self.transport,
        }
        settings = TargetSettings(base_url=server.base_url, options=options)
        return create_vertex_adapter("gemini-2.5-flash", settings)

    def all_on_vertex_paths(self) -> bool:
        """Whether every request the checks made took Vertex AI's path, with the token."""
        sent = [r for server in self.servers for r in server.requests]
        return all(
            (r.service, r.project, r.location, r.bearer)
            == ("vertex", "conformance-project", "us-central1", True)
            for r in sent
        )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
async def test_conformance(check: ConformanceCheck, transport: str) -> None:
    make_adapter = VertexAdapters(transport)
    await check(make_adapter, wire=GEMINI_WIRE)
    assert make_adapter.all_on_vertex_paths()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_run_conformance_passes(transport: str) -> None:
    make_adapter = VertexAdapters(transport)
    names = await run_conformance(make_adapter, checks=CONFORMANCE_CHECKS[:3], wire=GEMINI_WIRE)
    assert names == ["streamed_reply", "non_streamed_reply", "request_fields"]
    assert any(server.requests for server in make_adapter.servers)
    assert make_adapter.all_on_vertex_paths()
