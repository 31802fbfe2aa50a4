"""The ``fast`` transport's own pieces: its request body against the SDK's, the SSE parser, the
checks a 200 reply still fails, Vertex AI's token refresh, and the SDK surface it reads."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from google.auth import credentials as auth_credentials

from chatsim import PermanentError, TransientError
from chatsim.protocol import Message, Role
from chatsim.targets import TargetRequest, TargetSettings
from chatsim_gemini import create_gemini_adapter, create_vertex_adapter
from chatsim_gemini._fast import sdk_headers
from chatsim_gemini._wire import GeminiStream, plain_body

pytestmark = pytest.mark.anyio

KEY = "AIza-fast-test-key-000000000000"
REQUEST = TargetRequest(
    messages=(
        Message(Role.SYSTEM, "You are a helpful AI assistant."),
        Message(Role.USER, "What is 2+2?"),
        Message(Role.ASSISTANT, "4."),
        Message(Role.USER, "Why?"),
    ),
    temperature=0.7,
    max_tokens=64,
    seed=3,
    stop=("[END]",),
)


def _with(**fields: Any) -> TargetRequest:
    return dataclasses.replace(REQUEST, **fields)


def _gemini(base_url: str = "http://127.0.0.1:9/", **options: Any) -> Any:
    settings = TargetSettings(base_url=base_url, api_key=KEY, options=options)
    return create_gemini_adapter("gemini-2.5-flash", settings)


class _Token(auth_credentials.Credentials):  # type: ignore[misc]
    """Credentials without a token until refreshed; counts refreshes (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"ya29.refreshed-{self.refreshes}"


def _vertex(credentials: Any, base_url: str = "http://127.0.0.1:9/") -> Any:
    options = {"credentials": credentials, "project": "p", "location": "us-central1"}
    return create_vertex_adapter(
        "gemini-2.5-flash", TargetSettings(base_url=base_url, options=options)
    )


@pytest.mark.parametrize("profile", ["gemini", "vertex"])
async def test_the_hand_built_body_is_the_sdks(profile: str) -> None:
    adapter = _gemini() if profile == "gemini" else _vertex(_Token())
    try:
        # An ``extra`` field sends the request through the SDK's own converter.
        with_extra = adapter.rest_body(_with(extra={"top_p": 0.5}))
    finally:
        await adapter.aclose()
    expected = plain_body(REQUEST)
    expected["generationConfig"]["topP"] = 0.5
    assert with_extra == expected


async def test_extra_fields_land_where_the_sdk_puts_them() -> None:
    adapter = _gemini()
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    try:
        body = adapter.rest_body(_with(extra={"safety_settings": safety}))
    finally:
        await adapter.aclose()
    assert body["safetySettings"] == safety and "safetySettings" not in body["generationConfig"]


def _event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\r\n\r\n"


def _chunk(text: str, *, thought: bool = False, **more: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    return {"candidates": [{"content": {"role": "model", "parts": [part]}, **more}]}


def test_the_stream_parser_folds_events_split_anywhere() -> None:
    ticks = itertools.count(10.0, 0.5)
    stream = GeminiStream(lambda: next(ticks))
    final = _chunk("!", finishReason="STOP")
    final["usageMetadata"] = {
        "promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2,
    }  # fmt: skip
    final["responseId"] = "resp-1"
    raw = b"".join(
        [_event(_chunk("mulling", thought=True)), _event(_chunk("Hel")), _event(_chunk("lo")),
         b": a comment\r\n\r\n", _event(final)]
    )  # fmt: skip
    for i in range(0, len(raw), 7):  # events cut mid-line, CRLF pairs split
        stream.feed(raw[i : i + 7])
    assert stream.finish() == "Hello!"
    reply = stream.reply
    assert (reply.reason, reply.response_id) == ("STOP", "resp-1")
    assert reply.usage is not None and (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    ) == (7, 5)
    assert stream.first_token_at == 10.0 and stream.max_token_gap == 0.5


@pytest.fixture
async def replying() -> AsyncIterator[tuple[list[bytes], str]]:
    """A server that streams (or returns) the bodies put in its list, once each."""
    bodies: list[bytes] = []

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=bodies.pop(0), content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield bodies, f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("stream", [True, False])
async def test_a_blocked_prompt_is_permanent(
    replying: tuple[list[bytes], str], stream: bool
) -> None:
    bodies, url = replying
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "responseId": "r-9"}
    bodies.append(_event(blocked) if stream else json.dumps(blocked).encode())
    adapter = _gemini(url)
    try:
        with pytest.raises(PermanentError) as info:
            await adapter.complete(_with(stream=stream), now=lambda: 0.0)
    finally:
        await adapter.aclose()
    assert "SAFETY" in str(info.value) and "gemini-2.5-flash" in str(info.value)


async def test_a_stream_without_a_finish_reason_is_cut(replying: tuple[list[bytes], str]) -> None:
    bodies, url = replying
    bodies.append(_event(_chunk("Hel")))
    adapter = _gemini(url)
    try:
        with pytest.raises(TransientError, match="ended before the reply finished"):
            await adapter.complete(_with(stream=True), now=lambda: 0.0)
    finally:
        await adapter.aclose()


async def test_an_error_event_in_the_stream_is_mapped(replying: tuple[list[bytes], str]) -> None:
    bodies, url = replying
    error = {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    bodies.append(_event(_chunk("Hel")) + _event({"error": error}))
    adapter = _gemini(url)
    try:
        with pytest.raises(TransientError, match="UNAVAILABLE"):
            await adapter.complete(_with(stream=True), now=lambda: 0.0)
    finally:
        await adapter.aclose()


async def test_a_missing_token_is_refreshed_once_for_concurrent_calls(
    replying: tuple[list[bytes], str],
) -> None:
    bodies, url = replying
    bodies.extend(json.dumps(_chunk("ok", finishReason="STOP")).encode() for _ in range(4))
    credentials = _Token()
    adapter = _vertex(credentials, url)
    try:
        replies = await asyncio.gather(
            *(adapter.complete(_with(stream=False), now=lambda: 0.0) for _ in range(4))
        )
    finally:
        await adapter.aclose()
    assert [r.text for r in replies] == ["ok"] * 4 and credentials.refreshes == 1


async def test_the_sdk_surface_the_fast_transport_reads() -> None:
    """``sdk_headers`` reads the SDK's private request builder: pinned here, so an SDK upgrade
    that moves it fails this test rather than every request."""
    adapter = _gemini()
    try:
        headers = {k.lower(): v for k, v in sdk_headers(adapter.client).items()}
    finally:
        await adapter.aclose()
    assert headers["x-goog-api-key"] == KEY
    assert headers["x-goog-api-client"].startswith("google-genai-sdk/")
