"""The loopback server refuses what the Messages API refuses, as the official SDK sees it.

Each body goes out through the SDK's own ``post`` (so bodies its typed ``create`` would not
build still reach the wire) and must come back as ``anthropic.BadRequestError`` carrying
Anthropic's error shape (``{"type": "error", "error": {"type": "invalid_request_error"}}``).
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.types import Message, message_create_params

from chatsim.testing import AnthropicLoopbackServer, ReplyScript
from chatsim.testing._anthropic_checks import KNOWN_FIELDS

pytestmark = pytest.mark.anyio

USER = {"role": "user", "content": "What is 2 + 2?"}
ASSISTANT = {"role": "assistant", "content": "4."}
BASE: dict[str, Any] = {"model": "claude-test", "max_tokens": 16, "messages": [USER]}
_DROP = object()


def _with(**changes: Any) -> dict[str, Any]:
    body = {**BASE, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


REFUSED = [
    # (body, the message the API gives, or this server's where the API's is not known)
    (_with(messages=[ASSISTANT, USER]), 'messages: first message must use the "user" role'),
    (
        _with(messages=[{"role": "system", "content": "Be brief."}, USER]),
        'messages: Unexpected role "system"',
    ),
    (_with(messages=[{"role": "tool", "content": "x"}]), "messages.0.role: Input should be"),
    (_with(messages=[{"role": "user"}]), "messages.0.content: Field required"),
    (_with(messages=[{"role": "user", "content": 7}]), "messages.0.content: Input should be"),
    (_with(messages=[{**USER, "name": "u"}]), "messages.0.name: Extra inputs are not permitted"),
    (
        _with(messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}]),
        "messages.0.content.0.type: this loopback server reads only 'text'",
    ),
    (
        _with(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]),
        "messages.0.content.0.text.text: Input should be a valid string",
    ),
    (
        _with(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
        "messages: text content blocks must be non-empty",
    ),
    (
        _with(messages=[USER, {"role": "assistant", "content": ""}, USER]),
        "messages.1: all messages must have non-empty content except for the optional final",
    ),
    (_with(messages=[{"role": "user", "content": ""}]), "messages.0: all messages must have"),
    (_with(messages=[]), "messages: at least one message is required"),
    (_with(messages=_DROP), "messages: Field required"),
    (_with(max_tokens=_DROP), "max_tokens: Field required"),
    (_with(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
    (_with(max_tokens=1.5), "max_tokens: Input should be a valid integer"),
    (_with(max_tokens=True), "max_tokens: Input should be a valid integer"),
    (_with(model=_DROP), "model: Field required"),
    (_with(temperature=1.5), "temperature: range: 0..1"),
    (_with(temperature=-0.1), "temperature: range: 0..1"),
    (_with(temperature="hot"), "temperature: Input should be a valid number"),
    (_with(system=5), "system: Input should be a valid string or a list of text blocks"),
    (
        _with(system=[{"type": "image", "source": {}}]),
        "system.0.type: this loopback server reads only 'text'",
    ),
    (_with(system=[{"type": "text", "text": ""}]), "system: text content blocks must be"),
    (_with(stream="yes"), "stream: Input should be a valid boolean"),
    (_with(stop_sequences="[END]"), "stop_sequences: Input should be a valid list of strings"),
    # OpenAI's field names, sent to Anthropic by mistake: the API refuses unknown fields.
    (_with(response_format={"type": "json"}), "response_format: Extra inputs are not permitted"),
    (_with(seed=7), "seed: Extra inputs are not permitted"),
    (_with(max_completion_tokens=9), "max_completion_tokens: Extra inputs are not permitted"),
]


async def _post(server: AnthropicLoopbackServer, body: dict[str, Any]) -> Message:
    sdk = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="sk-ant-x", max_retries=0)
    try:
        return await sdk.post("/v1/messages", body=body, cast_to=Message)
    finally:
        await sdk.close()


@pytest.mark.parametrize(("body", "message"), REFUSED)
async def test_the_sdk_raises_bad_request_with_anthropics_error_shape(
    body: dict[str, Any], message: str
) -> None:
    async with AnthropicLoopbackServer("four") as server:
        with pytest.raises(anthropic.BadRequestError) as info:
            await _post(server, body)
        (record,) = server.requests
    error = info.value.body
    assert isinstance(error, dict) and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(message)
    assert info.value.status_code == record.status == 400
    assert info.value.request_id == record.request_id  # the request-id header rides along


ACCEPTED = [
    _with(messages=[USER, {"role": "assistant", "content": ""}]),  # an empty prefill
    _with(messages=[USER, {"role": "assistant", "content": "The answer is"}]),
    _with(messages=[USER, USER]),  # the API merges consecutive turns
    _with(messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]),
    _with(system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]),
    _with(system="Be brief.", temperature=0, stop_sequences=["[END]"], stream=False),
    _with(temperature=1, top_p=0.9, top_k=5, metadata={"user_id": "u1"}),
]


@pytest.mark.parametrize("body", ACCEPTED)
async def test_documented_requests_are_served(body: dict[str, Any]) -> None:
    script = ReplyScript(lambda ctx: f"seen {len(ctx.messages)}")
    async with AnthropicLoopbackServer(script) as server:
        message = await _post(server, body)
    assert message.content[0].type == "text"
    assert message.content[0].text == f"seen {len(body['messages'])}"


def test_every_body_field_the_sdk_sends_is_known_to_the_server() -> None:
    """A newer SDK that documents a new body field must not be refused by this server."""
    params = message_create_params.MessageCreateParamsStreaming.__annotations__
    assert set(params) <= KNOWN_FIELDS
