"""The adapter through the official SDK against the loopback Messages API server."""

from __future__ import annotations

import importlib.metadata
import time

import anthropic
import pytest
from anthropic_helpers import KEY, QUESTION, REPLY, SYSTEM, adapter_for, request

from chatsim import MissingCredentialError
from chatsim.protocol import Message, Role
from chatsim.targets import TargetRequest, TargetSettings, create_adapter
from chatsim.testing import Latency, ReplyScript
from chatsim_anthropic import DEFAULT_MAX_TOKENS, AnthropicAdapter, anthropic_adapter
from chatsim_anthropic.testing import AnthropicLoopbackServer, count_tokens

pytestmark = pytest.mark.anyio

RATE_HEADERS = {
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:00Z",
    "x-internal": "not recorded",
}


async def test_streamed_reply_text_usage_finish_ids_and_timing() -> None:
    script = ReplyScript(REPLY, latency=Latency.ms(first_token=5, inter_token=1, chunks=4))
    async with AnthropicLoopbackServer(script, api_key=KEY, extra_headers=RATE_HEADERS) as server:
        adapter = adapter_for(server)
        try:
            started = time.perf_counter()
            reply = await adapter.complete(request(), now=time.perf_counter)
            after = time.perf_counter()
        finally:
            await adapter.aclose()
        (record,) = server.requests
    assert reply.text == REPLY and reply.finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == count_tokens(SYSTEM) + count_tokens(QUESTION)
    assert reply.usage.completion_tokens == count_tokens(REPLY)
    timing = reply.timing
    assert timing.first_token_at is not None and timing.ended_at is not None
    assert started <= timing.first_token_at <= timing.ended_at <= after
    assert timing.first_token_at - started >= 0.004  # the scripted 5 ms
    assert timing.ended_at - timing.first_token_at >= 0.002  # three 1 ms gaps follow
    assert timing.max_token_gap is not None and timing.max_token_gap > 0
    assert timing.sent_at is None  # the SDK does not say; the attempt's start stands for it
    assert reply.request_id == record.request_id == reply.headers["request-id"]
    assert reply.headers["anthropic-ratelimit-requests-remaining"] == "49"
    assert "anthropic-ratelimit-tokens-reset" in reply.headers and "x-internal" not in reply.headers
    presented = record.headers.get("x-api-key") or record.headers["authorization"]
    assert record.stream and presented in (KEY, f"Bearer {KEY}")
    assert "anthropic-version" in record.headers
    assert record.body["system"] == SYSTEM
    assert record.body["messages"] == [{"role": "user", "content": QUESTION}]


async def test_non_streamed_reply() -> None:
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        adapter = adapter_for(server)
        try:
            reply = await adapter.complete(request(stream=False), now=time.perf_counter)
        finally:
            await adapter.aclose()
        (record,) = server.requests
    assert reply.text == REPLY and reply.finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == count_tokens(REPLY)
    assert reply.timing.first_token_at is None and reply.request_id == record.request_id
    assert not record.stream


async def test_request_fields() -> None:
    async with AnthropicLoopbackServer(REPLY) as server:
        adapter = adapter_for(server)
        try:
            fields = request(temperature=0.3, max_tokens=64, seed=7, stop=("[END]",))
            await adapter.complete(fields, now=time.perf_counter)
            extra = {"top_k": 5, "metadata": {"user_id": "u1"}}
            await adapter.complete(request(temperature=None, extra=extra), now=time.perf_counter)
        finally:
            await adapter.aclose()
        first, second = (r.body for r in server.requests)
    assert first["temperature"] == 0.3 and first["max_tokens"] == 64
    assert first["stop_sequences"] == ["[END]"] and "seed" not in first and "stop" not in first
    assert "temperature" not in second and second["max_tokens"] == DEFAULT_MAX_TOKENS == 1024
    # metadata is an argument of the SDK's create, top_k (in 2.x) is not: both reach the wire.
    assert second["top_k"] == 5 and second["metadata"] == {"user_id": "u1"}


async def test_max_tokens_and_stop_sequences_set_the_finish_reason() -> None:
    async with AnthropicLoopbackServer("one two three [END] four") as server:
        adapter = adapter_for(server, max_tokens=2)
        try:
            cut = await adapter.complete(request(), now=time.perf_counter)
            stopped = await adapter.complete(request(stop=("[END]",), max_tokens=50),
                                             now=time.perf_counter)  # fmt: skip
            whole = await adapter.complete(request(stream=False), now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert (cut.text, cut.finish_reason) == ("one two", "length")
    assert (stopped.text, stopped.finish_reason) == ("one two three ", "stop")
    assert (whole.text, whole.finish_reason) == ("one two", "length")
    assert server.requests[0].body["max_tokens"] == 2


async def test_the_sdks_own_stream_helper_parses_the_server() -> None:
    # The SDK's accumulating helper rebuilds the message from our events: a server it could
    # not parse (an event shape off the published reference) fails here.
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
        try:
            async with client.messages.stream(
                model="claude-test", max_tokens=100, system=SYSTEM,
                messages=[{"role": "user", "content": QUESTION}],
            ) as stream:  # fmt: skip
                texts = [t async for t in stream.text_stream]
                final = await stream.get_final_message()
            whole = await client.messages.create(
                model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "q"}]
            )
        finally:
            await client.close()
    assert "".join(texts) == REPLY and final.content[0].type == "text"
    assert final.content[0].text == REPLY and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == count_tokens(REPLY) and final.role == "assistant"
    assert whole.content[0].type == "text" and whole.content[0].text == REPLY
    assert whole.id.startswith("msg_") and whole.usage.input_tokens == 1


async def test_the_server_refuses_what_the_api_refuses() -> None:
    async with AnthropicLoopbackServer(REPLY) as server:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
        try:
            with pytest.raises(anthropic.BadRequestError, match="role"):
                await client.messages.create(
                    model="m", max_tokens=5, messages=[{"role": "system", "content": "s"}]
                )
        finally:
            await client.close()


def test_a_missing_key_fails_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingCredentialError, match="ANTHROPIC_API_KEY"):
        anthropic_adapter("claude-test", TargetSettings())


async def test_environment_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")
    adapter = anthropic_adapter("claude-test", TargetSettings())
    explicit = anthropic_adapter("m", TargetSettings(base_url="http://127.0.0.1:8", api_key="k2"))
    try:
        assert adapter.client.api_key == KEY and adapter.client.max_retries == 0
        assert str(adapter.client.base_url).startswith("http://127.0.0.1:9")
        assert explicit.client.api_key == "k2"
        assert str(explicit.client.base_url).startswith("http://127.0.0.1:8")
        described = adapter.describe_request(request())
        assert described["url"] == "http://127.0.0.1:9/v1/messages"
        assert KEY not in repr(described) and KEY not in repr(adapter)
    finally:
        await adapter.aclose()
        await explicit.aclose()


async def test_the_entry_point_builds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    (point,) = importlib.metadata.entry_points(group="chatsim.targets", name="anthropic")
    assert point.value == "chatsim_anthropic._factories:anthropic_adapter"
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    adapter = create_adapter("anthropic:claude-sonnet-4-5", TargetSettings())
    try:
        assert isinstance(adapter, AnthropicAdapter) and adapter.model == "claude-sonnet-4-5"
    finally:
        await adapter.aclose()


def test_system_messages_are_joined_into_system() -> None:
    adapter = anthropic_adapter("m", TargetSettings(api_key=KEY, base_url="http://127.0.0.1:1"))
    messages = (
        Message(Role.SYSTEM, "a"), Message(Role.SYSTEM, "b"), Message(Role.USER, "u"),
        Message(Role.ASSISTANT, "r"), Message(Role.USER, "v"),
    )  # fmt: skip
    body = adapter.build_body(TargetRequest(messages=messages, stream=False))
    assert body["system"] == "a\n\nb" and "stream" not in body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
