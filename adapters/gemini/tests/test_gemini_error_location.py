"""Issue 15: Gemini's permanent errors name the endpoint (without its query) and the model,
never the key."""

from __future__ import annotations

import json

import httpx
import pytest
from google import genai
from google.genai import types

from chatsim import PermanentError, TargetError
from chatsim.protocol import Message, Role
from chatsim.targets import CallPolicy, TargetCaller, TargetRequest
from chatsim.testing import Fault, FaultKind
from chatsim_gemini import GeminiAdapter
from chatsim_gemini.testing import GeminiLoopbackServer

KEY = "AIzaSy-test-planted-secret-0123456789"  # the key conftest serves with

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("status", [400, 404])
async def test_permanent_errors_name_the_model_and_the_endpoint(
    adapter: GeminiAdapter, server: GeminiLoopbackServer, stream: bool, status: int
) -> None:
    server.inject(Fault(FaultKind.HTTP_ERROR, status=status))
    request = TargetRequest(messages=(Message(Role.USER, "What is 2 + 2?"),), stream=stream)
    with pytest.raises(TargetError) as info:
        await TargetCaller(adapter, CallPolicy(max_attempts=1)).call(request)
    error = info.value
    assert isinstance(error, PermanentError) and error.status_code == status
    (attempt,) = error.attempts
    method = "streamGenerateContent" if stream else "generateContent"
    url = f"{server.base_url.rstrip('/')}/v1beta/models/gemini-2.5-flash:{method}"
    where = f"for model 'gemini-2.5-flash' at {url}"
    assert str(error).startswith(f"gemini answered HTTP {status}")
    assert where in str(error) and where in (attempt.error_message or "")
    assert "alt=sse" not in str(error)
    assert KEY not in f"{error} {error!r} {error.headers} {attempt.model_dump_json()}"


def _blocking_adapter() -> GeminiAdapter:
    """An adapter whose every reply is a 200 refusing the prompt (``promptFeedback``), as the
    API answers a prompt its safety filters block; served by an httpx mock transport."""
    blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "resp-9"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("alt") == "sse":
            return httpx.Response(
                200,
                content=b"data: " + json.dumps(blocked).encode() + b"\r\n\r\n",
                headers={"content-type": "text/event-stream"},
            )
        return httpx.Response(200, json=blocked)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    options = types.HttpOptions(
        base_url="https://blocking.example/",
        api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1),
        httpx_async_client=http,
    )
    client = genai.Client(api_key=KEY, http_options=options)
    return GeminiAdapter(
        "gemini-2.5-flash",
        client,
        base_url="https://blocking.example/",
        http=http,
        transport="sdk",  # served by the httpx mock transport the SDK's client holds
    )


@pytest.mark.parametrize("stream", [True, False])
async def test_a_blocked_prompt_is_permanent_and_names_the_model_and_the_endpoint(
    stream: bool,
) -> None:
    adapter = _blocking_adapter()
    request = TargetRequest(messages=(Message(Role.USER, "Something blocked"),), stream=stream)
    try:
        with pytest.raises(TargetError) as info:
            await TargetCaller(adapter, CallPolicy(max_attempts=3)).call(request)
    finally:
        await adapter.aclose()
    error = info.value
    assert isinstance(error, PermanentError) and len(error.attempts) == 1  # never retried
    method = "streamGenerateContent" if stream else "generateContent"
    url = f"https://blocking.example/v1beta/models/gemini-2.5-flash:{method}"
    assert str(error).startswith("gemini answered HTTP 200 (PROHIBITED_CONTENT)")
    assert f"for model 'gemini-2.5-flash' at {url}: the prompt was blocked" in str(error)
    assert error.request_id == "resp-9" and "alt=sse" not in str(error)
    assert KEY not in f"{error} {error!r} {error.headers}"
