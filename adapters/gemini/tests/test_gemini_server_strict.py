"""``GeminiLoopbackServer`` as strict as the real services: Vertex AI's paths and bearer-token
auth, API versions per service, and the 400 for ``contents`` that do not open with the user."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from chatsim.testing import GeminiLoopbackServer

pytestmark = pytest.mark.anyio

TOKEN = "ya29.server-test-token-0123456789"
VERTEX = "v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-test"
USER = {"role": "user", "parts": [{"text": "What is 2 + 2?"}]}
MODEL_TURN = {"role": "model", "parts": [{"text": "Hello! Ask me anything."}]}


@pytest.fixture
async def server() -> AsyncIterator[GeminiLoopbackServer]:
    async with GeminiLoopbackServer("four", api_key=TOKEN) as served:
        yield served


async def _post(
    server: GeminiLoopbackServer, path: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    url = f"{server.base_url}{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as reply,
    ):
        return reply.status, json.loads(await reply.read())


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_vertex_path_answers_a_bearer_token(server: GeminiLoopbackServer) -> None:
    status, body = await _post(server, f"{VERTEX}:generateContent", {"contents": [USER]}, _bearer())
    assert status == 200
    assert types.GenerateContentResponse.model_validate(body).text == "four"
    (sent,) = server.requests
    assert (sent.service, sent.project, sent.location, sent.version, sent.bearer) == (
        "vertex",
        "p",
        "us-central1",
        "v1beta1",
        True,
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Request is missing required authentication credential."),
        ({"x-goog-api-key": TOKEN}, "Request is missing required authentication credential."),
        (_bearer("ya29.wrong"), "Request had invalid authentication credentials."),
    ],
)
async def test_vertex_refuses_requests_without_the_token(
    server: GeminiLoopbackServer, headers: dict[str, str], message: str
) -> None:
    status, body = await _post(server, f"{VERTEX}:generateContent", {"contents": [USER]}, headers)
    assert status == 401
    assert body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["message"].startswith(message)
    assert TOKEN not in json.dumps(body)


async def test_the_sdk_with_vertexai_true_talks_to_it(server: GeminiLoopbackServer) -> None:
    async with httpx.AsyncClient() as http:
        options = types.HttpOptions(base_url=server.base_url, httpx_async_client=http)
        client = genai.Client(
            vertexai=True,
            project="p",
            location="us-central1",
            credentials=Credentials(token=TOKEN),
            http_options=options,
        )
        chunks = [
            c.text
            async for c in await client.aio.models.generate_content_stream(
                model="gemini-test", contents="What is 2 + 2?"
            )
        ]
    assert "".join(t or "" for t in chunks) == "four"
    assert server.requests[0].service == "vertex" and server.requests[0].stream


@pytest.mark.parametrize(
    "path",
    [
        "v1beta/projects/p/locations/l/publishers/google/models/m:generateContent",
        "v1beta1/models/m:generateContent",
        "v2/models/m:generateContent",
    ],
)
async def test_an_api_version_the_service_does_not_serve_is_not_found(
    server: GeminiLoopbackServer, path: str
) -> None:
    headers = {**_bearer(), "x-goog-api-key": TOKEN}
    status, body = await _post(server, path, {"contents": [USER]}, headers)
    assert (status, body["error"]["status"]) == (404, "NOT_FOUND")
    assert not server.requests


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("v1beta/models/gemini-test:generateContent", {"x-goog-api-key": TOKEN}),
        (f"{VERTEX}:generateContent", _bearer()),
        ("v1beta1/publishers/google/models/gemini-test:generateContent", {"x-goog-api-key": TOKEN}),
    ],
)
@pytest.mark.parametrize(
    ("contents", "field"),
    [
        ([MODEL_TURN, USER], "contents[0].role"),
        ([{"parts": [{"text": "no role"}]}], "contents[0].role"),
        ([], "contents"),
        (None, "contents"),
    ],
)
async def test_contents_must_open_with_the_user(
    server: GeminiLoopbackServer,
    path: str,
    headers: dict[str, str],
    contents: Any,
    field: str,
) -> None:
    body = {} if contents is None else {"contents": contents}
    status, answer = await _post(server, path, body, headers)
    error = answer["error"]
    assert (status, error["code"], error["status"]) == (400, 400, "INVALID_ARGUMENT")
    assert error["message"].startswith(f"* GenerateContentRequest.{field}: ")
    (detail,) = error["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert detail["fieldViolations"][0]["field"] == field
    assert not server.requests and server.stats.requests == 0


async def test_the_sdk_sees_the_refusal_as_a_client_error(server: GeminiLoopbackServer) -> None:
    async with httpx.AsyncClient() as http:
        options = types.HttpOptions(base_url=server.base_url, httpx_async_client=http)
        client = genai.Client(api_key=TOKEN, http_options=options)
        opening = types.Content(role="model", parts=[types.Part(text="Hi")])
        with pytest.raises(errors.ClientError) as info:
            await client.aio.models.generate_content(model="gemini-test", contents=[opening])
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
