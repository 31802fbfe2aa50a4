"""The adapter through the official SDK against the Gemini loopback server: replies, timings,
usage, the request as sent, configuration and the entry point."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest

from chatsim import ConfigError, MissingCredentialError
from chatsim.protocol import Message, Role
from chatsim.targets import (
    HOSTED_ADAPTERS,
    TargetRequest,
    TargetSettings,
    available_adapters,
    create_adapter,
)
from chatsim.testing import Latency, ReplyScript
from chatsim_gemini import GeminiAdapter, create_gemini_adapter, finish_reason_of
from chatsim_gemini.testing import GeminiLoopbackServer

KEY = "AIzaSy-test-planted-secret-0123456789"  # the key conftest serves with

pytestmark = pytest.mark.anyio

REQUEST = TargetRequest(
    messages=(
        Message(Role.SYSTEM, "You are terse."),
        Message(Role.USER, "What is 2 + 2?"),
        Message(Role.ASSISTANT, "4."),
        Message(Role.USER, "And 3 + 3?"),
    ),
    temperature=0.2,
    max_tokens=32,
    seed=11,
    stop=("[END]",),
)


async def test_streamed_reply_timings_and_usage(
    adapter: GeminiAdapter, server: GeminiLoopbackServer
) -> None:
    started = time.perf_counter()
    reply = await adapter.complete(REQUEST, now=time.perf_counter)
    ended = time.perf_counter()
    assert reply.text == "The answer is (B)." and reply.finish_reason == "stop"
    timing = reply.timing
    assert timing.first_token_at is not None and timing.ended_at is not None
    assert started <= timing.first_token_at <= timing.ended_at <= ended
    assert timing.first_token_at - started >= 0.004  # the scripted 5 ms
    assert timing.max_token_gap is not None and timing.max_token_gap >= 0.001
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        13,
        4,
    )  # words, as the server counts
    (record,) = server.upstream.completion_requests
    assert reply.request_id == record.request_id == reply.headers["x-request-id"]


async def test_non_streamed_reply(adapter: GeminiAdapter, server: GeminiLoopbackServer) -> None:
    before = time.perf_counter()
    reply = await adapter.complete(
        dataclasses.replace(REQUEST, stream=False), now=time.perf_counter
    )
    assert reply.text == "The answer is (B)." and reply.finish_reason == "stop"
    assert reply.timing.first_token_at is None
    assert reply.timing.ended_at is not None and reply.timing.ended_at >= before
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    assert server.requests[0].method == "generateContent"


async def test_the_sdk_sends_gemini_wire_format(
    adapter: GeminiAdapter, server: GeminiLoopbackServer
) -> None:
    await adapter.complete(REQUEST, now=time.perf_counter)
    (sent,) = server.requests
    assert (sent.model, sent.method, sent.query) == (
        "gemini-2.5-flash",
        "streamGenerateContent",
        {"alt": "sse"},
    )
    assert sent.key_header  # x-goog-api-key, not a query parameter
    body = sent.body
    assert body["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    turns = [(c["role"], c["parts"][0]["text"]) for c in body["contents"]]
    assert turns == [("user", "What is 2 + 2?"), ("model", "4."), ("user", "And 3 + 3?")]
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 32,
        "seed": 11,
        "stopSequences": ["[END]"],
    }
    assert adapter.build_request(REQUEST)[1].automatic_continuation is False  # SDK-side only
    described = adapter.describe_request(REQUEST)
    assert described["url"] == (
        f"{server.base_url}v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert described["body"]["contents"] == body["contents"]
    assert described["body"]["generationConfig"] == body["generationConfig"]
    assert KEY not in repr(described)


async def test_max_tokens_finish_is_length() -> None:
    script = ReplyScript("one two three four five six", latency=Latency.ms(1))
    async with GeminiLoopbackServer(script) as server:
        settings = TargetSettings(base_url=server.base_url, api_key=KEY)
        adapter = create_gemini_adapter("gemini-2.5-pro", settings)
        try:
            for stream in (True, False):
                request = dataclasses.replace(REQUEST, max_tokens=2, stream=stream)
                reply = await adapter.complete(request, now=time.perf_counter)
                assert reply.finish_reason == "length" and reply.text
        finally:
            await adapter.aclose()
    assert [finish_reason_of(r) for r in ("STOP", "MAX_TOKENS", "SAFETY", "OTHER", None)] == [
        "stop",
        "length",
        "content_filter",
        "other",
        None,
    ]


async def test_extra_fields_reach_the_config(
    adapter: GeminiAdapter, server: GeminiLoopbackServer
) -> None:
    request = dataclasses.replace(REQUEST, extra={"top_p": 0.5}, temperature=None)
    await adapter.complete(request, now=time.perf_counter)
    config = server.requests[0].body["generationConfig"]
    assert config["topP"] == 0.5 and "temperature" not in config
    with pytest.raises(ConfigError, match="no_such_field"):
        adapter.build_request(dataclasses.replace(REQUEST, extra={"no_such_field": 1}))


def test_missing_key_names_both_variables() -> None:
    with pytest.raises(MissingCredentialError, match="GEMINI_API_KEY or GOOGLE_API_KEY") as info:
        create_gemini_adapter("gemini-2.5-flash", TargetSettings())
    assert "GEMINI_API_KEY" in info.value.variable


async def test_environment_and_precedence(
    monkeypatch: pytest.MonkeyPatch, server: GeminiLoopbackServer
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
    adapter = create_gemini_adapter("gemini-2.5-flash", TargetSettings())
    try:
        assert adapter.base_url == server.base_url
        reply = await adapter.complete(REQUEST, now=time.perf_counter)
        assert reply.text == "The answer is (B)."
    finally:
        await adapter.aclose()
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-wrong-key-0000000000")  # GOOGLE_API_KEY wins
    explicit = TargetSettings(api_key=KEY, base_url="http://127.0.0.1:9/")
    other = create_gemini_adapter("m", explicit)
    assert other.base_url == "http://127.0.0.1:9/"  # an explicit base URL beats the environment
    await other.aclose()
    with pytest.raises(ConfigError):
        create_gemini_adapter("m", TargetSettings(api_key=KEY, base_url="ftp://nowhere"))


def test_entry_point_registered_and_hosted() -> None:
    assert "gemini" in available_adapters() and "gemini" in HOSTED_ADAPTERS
    adapter = create_adapter("gemini:gemini-2.5-flash", TargetSettings(api_key=KEY))
    assert isinstance(adapter, GeminiAdapter)
    assert (adapter.name, adapter.model) == ("gemini", "gemini-2.5-flash")
    assert adapter.base_url == "https://generativelanguage.googleapis.com/"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print('\\n'.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_imports_stay_light() -> None:
    core = _modules_after("import chatsim, chatsim.targets; chatsim.targets.available_adapters()")
    assert not any(m.startswith("google.genai") for m in core)
    assert "chatsim_gemini" not in core
    ours = _modules_after("import chatsim_gemini, chatsim_gemini.testing")
    assert "torch" not in ours and "transformers" not in ours
