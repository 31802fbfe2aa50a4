"""Anthropic's Messages API wire format, as the loopback server writes it.

From Anthropic's published API reference: a streamed reply is named SSE events
(``event: <type>`` + ``data: <json>``): ``message_start`` (the message, empty content, input
tokens), ``content_block_start``, ``ping``, one ``content_block_delta`` (``text_delta``) per
chunk, ``content_block_stop``, ``message_delta`` (``stop_reason``, output tokens),
``message_stop``. An ``error`` event may arrive instead of the rest. A whole reply is one
``message`` object; an error is ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["ERROR_TYPE_OF_STATUS", "StreamEvents", "error_body", "event", "message_body"]

#: The documented ``error.type`` for each HTTP status.
ERROR_TYPE_OF_STATUS: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_MESSAGES: Final[dict[str, str]] = {
    "invalid_request_error": "Invalid request.",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "The requested resource could not be found.",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(status: int, message: str | None = None, kind: str | None = None) -> bytes:
    kind = kind or ERROR_TYPE_OF_STATUS.get(status, "api_error")
    text = message or _MESSAGES.get(kind, f"HTTP {status}")
    return dumps({"type": "error", "error": {"type": kind, "message": text}})


def event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def _message(msg_id: str, model: str, content: list[Any], usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }


def message_body(
    msg_id: str,
    model: str,
    text: str,
    stop_reason: str,
    stop_sequence: str | None,
    usage: tuple[int, int],
) -> bytes:
    content = [{"type": "text", "text": text}]
    tokens = {"input_tokens": usage[0], "output_tokens": usage[1]}
    body = _message(msg_id, model, content, tokens)
    body.update(stop_reason=stop_reason, stop_sequence=stop_sequence)
    return dumps(body)


class StreamEvents:
    """The events of one streamed reply."""

    @staticmethod
    def start(msg_id: str, model: str, input_tokens: int) -> bytes:
        usage = {"input_tokens": input_tokens, "output_tokens": 1}
        head = event(
            "message_start",
            {"type": "message_start", "message": _message(msg_id, model, [], usage)},
        )
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        return head + event("content_block_start", block) + event("ping", {"type": "ping"})

    @staticmethod
    def delta(text: str) -> bytes:
        delta = {"type": "text_delta", "text": text}
        return event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )

    @staticmethod
    def finish(stop_reason: str, stop_sequence: str | None, output_tokens: int) -> bytes:
        stop = event("content_block_stop", {"type": "content_block_stop", "index": 0})
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": {"output_tokens": output_tokens},
        }
        return (
            stop + event("message_delta", delta) + event("message_stop", {"type": "message_stop"})
        )

    @staticmethod
    def error(status: int) -> bytes:
        return b"event: error\ndata: " + error_body(status) + b"\n\n"
