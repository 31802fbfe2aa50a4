"""The ``fast`` transport's pieces: the Messages API event reader, the body parser, the
endpoint it derives through the SDK's private request pipeline, and the transport option."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatsim import ConfigError
from chatsim.recording import Usage
from chatsim.targets import TargetSettings
from chatsim.testing import FakeClock
from chatsim_anthropic import DEFAULT_TRANSPORT, anthropic_adapter, bedrock_adapter
from chatsim_anthropic._fast import derive_endpoint
from chatsim_anthropic._sse import (
    MalformedReply,
    MessageStream,
    StreamErrorEvent,
    parse_message_body,
)

pytestmark = pytest.mark.anyio

KEY = "sk-ant-fast-test-key"


def event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


def start(input_tokens: int = 7, output_tokens: int = 1) -> bytes:
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    return event("message_start", message={"id": "msg_1", "usage": usage})


def text(piece: str) -> bytes:
    return event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})


def finish(reason: str = "end_turn", output_tokens: int = 3) -> bytes:
    usage = {"output_tokens": output_tokens}
    return event("message_delta", delta={"stop_reason": reason}, usage=usage)


def test_a_stream_reads_text_usage_stop_reason_and_dates_text_by_its_read() -> None:
    clock = FakeClock(100.0)
    stream = MessageStream(clock.now)
    stream.feed(start() + event("ping") + event("content_block_start", index=0))
    clock.advance(0.5)
    stream.feed(text("Hel") + text("lo"))  # one read: one date for both
    clock.advance(0.25)
    stream.feed(text(" there") + finish("max_tokens", 9))
    clock.advance(0.125)
    stream.feed(event("message_stop") + text(" ignored after the stop"))
    assert stream.result() == ("Hello there", Usage(prompt_tokens=7, completion_tokens=9))
    assert (stream.first_token_at, stream.max_token_gap) == (100.5, 0.25)
    assert stream.ended_at == 100.875 and stream.stop_reason == "max_tokens"


def test_events_split_across_reads_and_crlf_line_endings_are_read() -> None:
    stream = MessageStream(FakeClock().now)
    raw = (start() + text("a") + text("b") + finish() + event("message_stop")).replace(
        b"\n", b"\r\n"
    )
    for i in range(0, len(raw), 7):
        stream.feed(raw[i : i + 7])
    assert stream.result() == ("ab", Usage(prompt_tokens=7, completion_tokens=3))


def test_a_last_event_without_its_blank_line_still_counts() -> None:
    stream = MessageStream(FakeClock().now)
    stream.feed(start() + text("x") + event("message_stop").rstrip(b"\n"))
    assert stream.result()[0] == "x"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (text("x") + event("message_stop"), "no message_start"),
        (start() + text("x") + finish(), "ended before message_stop"),
        (b"", "no message_start"),
    ],
)
def test_a_cut_or_headless_stream_is_malformed(raw: bytes, why: str) -> None:
    stream = MessageStream(FakeClock().now)
    stream.feed(raw)
    with pytest.raises(MalformedReply, match=why):
        stream.result()


def test_multi_line_data_comments_and_data_first_events_are_read() -> None:
    stream = MessageStream(FakeClock().now)
    payload = json.dumps(
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "y"}}
    )
    stream.feed(start() + b": a comment\n\n" + b"event: ping\n\n")
    head, tail = payload.split(", ", 1)  # data lines join with newlines: JSON whitespace
    stream.feed(f"data: {head},\ndata:{tail}\n\n".encode())
    stream.feed(b"data: " + payload.encode() + b"\nevent: content_block_delta\n\n")
    stream.feed(event("message_stop"))
    assert stream.result()[0] == "yy"


def test_bad_json_in_an_event_is_malformed() -> None:
    with pytest.raises(MalformedReply, match="not JSON"):
        MessageStream(FakeClock().now).feed(b"event: x\ndata: {not json\n\n")


def test_an_error_event_is_raised_with_its_envelope() -> None:
    error = {"type": "overloaded_error", "message": "Overloaded"}
    stream = MessageStream(FakeClock().now)
    with pytest.raises(StreamErrorEvent) as caught:
        stream.feed(start() + text("x") + event("error", error=error))
    assert caught.value.body == {"type": "error", "error": error}


def test_a_whole_body_gives_text_blocks_stop_reason_and_usage() -> None:
    blocks = [{"type": "text", "text": "Hi"}, {"type": "tool_use"}, {"type": "text", "text": "!"}]
    usage = {"input_tokens": 4, "output_tokens": 2}
    body = {"content": blocks, "stop_reason": "end_turn", "usage": usage}
    assert parse_message_body(json.dumps(body).encode()) == (
        "Hi!",
        "end_turn",
        Usage(prompt_tokens=4, completion_tokens=2),
    )
    for bad in (b"nope", b"{}", b'{"content": [], "usage": null}'):
        with pytest.raises(MalformedReply):
            parse_message_body(bad)


# -- the endpoint, through the SDK's private request pipeline (the names the cap guards) -------


async def test_the_anthropic_endpoint_is_the_sdks_url_with_its_auth_and_version() -> None:
    adapter = anthropic_adapter("m", TargetSettings(api_key=KEY, base_url="http://127.0.0.1:9"))
    try:
        url, headers = await derive_endpoint(adapter.client, "m")
    finally:
        await adapter.aclose()
    assert url == "http://127.0.0.1:9/v1/messages"
    assert KEY in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert "anthropic-version" in headers
    assert not {"host", "content-length", "connection"} & set(headers)


async def test_the_bedrock_endpoint_is_mantles_path_with_the_key_as_bearer() -> None:
    settings = TargetSettings(api_key=KEY, options={"region": "us-east-1"})
    adapter = bedrock_adapter("anthropic.claude-test", settings)
    try:
        url, headers = await derive_endpoint(adapter.client, "anthropic.claude-test")
    finally:
        await adapter.aclose()
    assert url == "https://bedrock-mantle.us-east-1.api.aws/anthropic/v1/messages"
    assert headers["authorization"] == f"Bearer {KEY}" and "x-api-key" not in headers


# -- the option ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["fast", "sdk"])
async def test_the_transport_option_picks_the_transport(transport: str) -> None:
    settings = TargetSettings(api_key=KEY, options={"transport": transport})
    adapter = anthropic_adapter("m", settings)
    await adapter.aclose()
    assert adapter.transport == transport


async def test_the_default_transport_is_fast() -> None:
    adapter = anthropic_adapter("m", TargetSettings(api_key=KEY))
    await adapter.aclose()
    assert adapter.transport == DEFAULT_TRANSPORT == "fast"


@pytest.mark.parametrize("factory", [anthropic_adapter, bedrock_adapter])
def test_an_unknown_transport_is_refused_naming_the_choices(factory: Any) -> None:
    settings = TargetSettings(api_key=KEY, options={"transport": "curl", "region": "us-east-1"})
    with pytest.raises(ConfigError, match=r"unknown transport 'curl'.*\('fast', 'sdk'\)"):
        factory("m", settings)
