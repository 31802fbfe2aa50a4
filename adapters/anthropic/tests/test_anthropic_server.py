"""``chatsim.testing.AnthropicLoopbackServer`` against the official SDK as its client.

The SDK builds its models leniently, so every body and event is also validated strictly
against the SDK's own types: a server the SDK cannot parse fails here.
"""

from __future__ import annotations

import anthropic
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent

from chatsim.testing import AnthropicLoopbackServer, Fault, FaultKind, Latency, ReplyScript

pytestmark = pytest.mark.anyio

KEY = "sk-ant-server-test-0123456789"
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]
EVENTS: pydantic.TypeAdapter[RawMessageStreamEvent] = pydantic.TypeAdapter(RawMessageStreamEvent)


def client(server: AnthropicLoopbackServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key=KEY, max_retries=0)


async def test_a_whole_message_validates_as_the_sdks_message() -> None:
    async with AnthropicLoopbackServer("four words of reply", api_key=KEY) as server:
        sdk = client(server)
        raw = await sdk.messages.with_raw_response.create(
            model="claude-test", max_tokens=64, system="Be brief.", messages=MESSAGES
        )
        await sdk.close()
    message = Message.model_validate(raw.http_response.json())
    assert [b.text for b in message.content if b.type == "text"] == ["four words of reply"]
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == (
        "end_turn",
        7,
        4,
    )
    assert raw.headers["request-id"] == server.requests[0].request_id
    assert server.requests[0].body["system"] == "Be brief."


async def test_every_streamed_event_validates_in_the_documented_order() -> None:
    script = ReplyScript("one two three", latency=Latency.ms(1, 1, chunks=3))
    async with AnthropicLoopbackServer(script, api_key=KEY) as server:
        sdk = client(server)
        stream = await sdk.messages.create(
            model="claude-test", max_tokens=64, messages=MESSAGES, stream=True
        )
        events = [EVENTS.validate_python(event.model_dump()) async for event in stream]
        await sdk.close()
    kinds = [e.type for e in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")  # type: ignore[union-attr]
    assert text == "one two three"


@pytest.mark.parametrize(
    ("fault", "sdk_error", "error_type"),
    [
        (Fault(FaultKind.RATE_LIMIT, retry_after=3), anthropic.RateLimitError, "rate_limit_error"),
        (Fault(FaultKind.HTTP_ERROR, status=529), anthropic.OverloadedError, "overloaded_error"),
        (Fault(FaultKind.SERVER_ERROR), anthropic.InternalServerError, "api_error"),
        (Fault(FaultKind.UNAUTHORIZED), anthropic.AuthenticationError, "authentication_error"),
        (Fault(FaultKind.CONTEXT_LENGTH), anthropic.BadRequestError, "invalid_request_error"),
    ],
)
async def test_errors_are_the_sdks_exceptions_with_anthropics_error_type(
    fault: Fault, sdk_error: type[anthropic.APIStatusError], error_type: str
) -> None:
    async with AnthropicLoopbackServer("hi", api_key=KEY) as server:
        server.inject(fault)
        sdk = client(server)
        with pytest.raises(sdk_error) as info:
            await sdk.messages.create(model="claude-test", max_tokens=8, messages=MESSAGES)
        await sdk.close()
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == error_type
    if fault.kind is FaultKind.RATE_LIMIT:
        assert info.value.response.headers["retry-after"] == "3"


async def test_an_overloaded_event_mid_stream_is_the_sdks_error() -> None:
    async with AnthropicLoopbackServer("one two three", api_key=KEY) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=529, after_chunks=1))
        sdk = client(server)
        stream = await sdk.messages.create(
            model="claude-test", max_tokens=8, messages=MESSAGES, stream=True
        )
        with pytest.raises(anthropic.APIStatusError) as info:
            async for _ in stream:
                pass
        await sdk.close()
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "overloaded_error"


async def test_content_blocks_read_as_text() -> None:
    blocks = [{"role": "user", "content": [{"type": "text", "text": "block text"}]}]
    script = ReplyScript(lambda ctx: f"echo: {ctx.last_user_message}")
    async with AnthropicLoopbackServer(script) as server:
        sdk = client(server)
        message = await sdk.messages.create(model="claude-test", max_tokens=8, messages=blocks)  # type: ignore[arg-type]
        await sdk.close()
    assert message.content[0].text == "echo: block text"  # type: ignore[union-attr]
    assert message.usage.input_tokens == 2
