"""``chatsim.testing.GeminiLoopbackServer`` against the official google-genai SDK as client.

The SDK's response types forbid unknown fields, so each body and event the server writes is
validated strictly as a ``GenerateContentResponse``: a server the SDK cannot parse fails here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from google import genai
from google.genai import errors, types

from chatsim.testing import Fault, FaultKind, GeminiLoopbackServer, Latency, ReplyScript

pytestmark = pytest.mark.anyio

KEY = "AIzaSy-server-test-0123456789"
BODY = {
    "contents": [{"role": "user", "parts": [{"text": "What is 2 + 2?"}]}],
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "generationConfig": {"maxOutputTokens": 64},
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # httpx, as the adapter's factory does: the SDK's own aiohttp session warns on creation.
    async with httpx.AsyncClient() as made:
        yield made


def client(server: GeminiLoopbackServer, http: httpx.AsyncClient) -> genai.Client:
    options = types.HttpOptions(base_url=server.base_url, httpx_async_client=http)
    return genai.Client(api_key=KEY, http_options=options)


async def _post(
    server: GeminiLoopbackServer, method: str, query: str = ""
) -> aiohttp.ClientResponse:
    url = f"{server.base_url}v1beta/models/gemini-test:{method}{query}"
    async with aiohttp.ClientSession() as session:
        reply = await session.post(url, json=BODY, headers={"x-goog-api-key": KEY})
        await reply.read()
        return reply


async def test_a_whole_reply_validates_strictly() -> None:
    async with GeminiLoopbackServer("four words of reply", api_key=KEY) as server:
        reply = await _post(server, "generateContent")
    response = types.GenerateContentResponse.model_validate(json.loads(await reply.read()))
    assert response.text == "four words of reply"
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count == 7  # system + question, in words


async def test_every_streamed_event_validates_strictly() -> None:
    script = ReplyScript("one two three", latency=Latency.ms(1, 1, chunks=3))
    async with GeminiLoopbackServer(script, api_key=KEY) as server:
        reply = await _post(server, "streamGenerateContent", "?alt=sse")
    raw = (await reply.read()).decode()
    events = [
        types.GenerateContentResponse.model_validate(json.loads(line[len("data:") :]))
        for line in raw.splitlines()
        if line.startswith("data:")
    ]
    assert "".join(e.text or "" for e in events) == "one two three"
    last = events[-1]
    assert last.candidates is not None and last.candidates[0].finish_reason is not None
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count == 3


async def test_the_sdk_streams_it(http: httpx.AsyncClient) -> None:
    async with GeminiLoopbackServer("one two three", api_key=KEY) as server:
        sdk = client(server, http)
        chunks = [
            c.text
            async for c in await sdk.aio.models.generate_content_stream(
                model="gemini-test", contents="What is 2 + 2?"
            )
        ]
    assert "".join(t or "" for t in chunks) == "one two three"
    assert server.requests[0].stream and server.requests[0].key_header


@pytest.mark.parametrize(
    ("fault", "sdk_error", "status"),
    [
        (Fault(FaultKind.RATE_LIMIT, retry_after=3), errors.ClientError, "RESOURCE_EXHAUSTED"),
        (Fault(FaultKind.SERVER_ERROR), errors.ServerError, "INTERNAL"),
        (Fault(FaultKind.SERVICE_UNAVAILABLE), errors.ServerError, "UNAVAILABLE"),
        (Fault(FaultKind.UNAUTHORIZED), errors.ClientError, "UNAUTHENTICATED"),
    ],
)
async def test_errors_are_the_sdks_with_googles_status(
    fault: Fault, sdk_error: type[errors.APIError], status: str, http: httpx.AsyncClient
) -> None:
    async with GeminiLoopbackServer("hi", api_key=KEY) as server:
        server.inject(fault)
        sdk = client(server, http)
        with pytest.raises(sdk_error) as info:
            await sdk.aio.models.generate_content(model="gemini-test", contents="hi")
    assert (info.value.code, info.value.status) == (fault.http_status, status)
    assert KEY not in str(info.value)
    if fault.kind is FaultKind.RATE_LIMIT:
        details = info.value.details["error"]["details"]
        assert details[0]["retryDelay"] == "3s"
