"""Anthropic's Messages API wire format, as the loopback server reads and writes it.

From Anthropic's published API reference: a streamed reply is named SSE events
(``event: <type>`` + ``data: <json>``): ``message_start`` (the message, empty content, input
tokens), ``content_block_start``, ``ping``, one ``content_block_delta`` (``text_delta``) per
chunk, ``content_block_stop``, ``message_delta`` (``stop_reason``, output tokens),
``message_stop``. An ``error`` event may arrive instead of the rest. A whole reply is one
``message`` object; an error is ``{"type": "error", "error": {"type", "message"}}``.

Rate limits (``ratelimit_headers``): ``anthropic-ratelimit-{requests,tokens,input-tokens}-
{limit,remaining,reset}``, the reset an RFC 3339 time at which the limit is fully replenished.

The request side: where the key travels (``presented_key``) and how ``stop_sequences`` and
``max_tokens`` cut a reply (``shape``); what the API refuses with a 400 is ``_anthropic_checks``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from chatsim.testing._server_capacity import RateLimitWindow

__all__ = [
    "ERROR_TYPE_OF_STATUS",
    "StreamEvents",
    "error_body",
    "event",
    "message_body",
    "presented_key",
    "ratelimit_headers",
    "shape",
    "text_of",
]

_WORD = re.compile(r"\s*\S+")

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


def shape(text: str, body: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """``(text, stop_reason, stop_sequence)`` after ``stop_sequences`` and ``max_tokens``."""
    reason, matched = "end_turn", None
    stops = body.get("stop_sequences") or []
    hits = [(text.find(s), s) for s in stops if isinstance(s, str) and s and s in text]
    if hits:
        cut, matched = min(hits)
        text, reason = text[:cut], "stop_sequence"
    words = _WORD.findall(text)
    if len(words) > body["max_tokens"]:
        text, reason, matched = "".join(words[: body["max_tokens"]]), "max_tokens", None
    return text, reason, matched


def text_of(content: Any) -> str:
    """A message's text: a string, or the ``text`` of its text blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
    )


def presented_key(request: web.Request) -> str | None:
    """The key in ``x-api-key``, else in ``Authorization: Bearer`` (newer SDKs send that)."""
    auth = request.headers.get("Authorization", "")
    bearer = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
    return request.headers.get("x-api-key") or bearer


def ratelimit_headers(window: RateLimitWindow, wall_now: float) -> dict[str, str]:
    """Anthropic's ``anthropic-ratelimit-*`` headers for ``window`` (``wall_now``: epoch seconds).

    The window counts prompt tokens, so a tokens-per-minute limit is an input-token limit; it is
    also the most restrictive token limit in effect, which is what ``tokens-*`` reports. Output
    tokens are not counted, so no ``output-tokens-*`` headers are sent.
    """
    # Whole seconds, rounded up: a client that waits until the reset is never early.
    reset_at = dt.datetime.fromtimestamp(math.ceil(wall_now + window.reset_after()), dt.UTC)
    reset = reset_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    limits = window.limits
    counted: list[tuple[str, int | None, int]] = [
        ("requests", limits.requests_per_minute, window.requests),
        ("tokens", limits.tokens_per_minute, window.tokens),
        ("input-tokens", limits.tokens_per_minute, window.tokens),
    ]
    out: dict[str, str] = {}
    for kind, limit, used in counted:
        if limit is None:
            continue
        out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
        out[f"anthropic-ratelimit-{kind}-remaining"] = str(max(0, limit - used))
        out[f"anthropic-ratelimit-{kind}-reset"] = reset
    return out
