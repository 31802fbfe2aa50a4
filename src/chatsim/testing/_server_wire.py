"""OpenAI's wire format, as the loopback server writes it.

Chunks follow ``chat.completion.chunk`` / ``text_completion`` exactly as OpenAI streams them
(a role chunk, content deltas, a chunk with ``finish_reason``, a usage chunk with empty
``choices`` when ``stream_options.include_usage`` is set, then ``data: [DONE]``). Content
chunks are the hot path of load tests, so they are pre-encoded templates around one
``json.dumps`` of the text; everything else goes through ``json.dumps`` of a dict.
Error bodies copy OpenAI's ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "DONE",
    "ChatChunks",
    "CompletionChunks",
    "chat_body",
    "completion_body",
    "dumps",
    "error_body",
    "usage_dict",
]

DONE = b"data: [DONE]\n\n"
_FINGERPRINT = "fp_loopback"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _event(obj: Any) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"


class _Chunks:
    """What both streamed encoders share: the object header, pre-encoded once per reply so a
    content chunk is two byte concatenations (the server's hot path), and the rare chunks."""

    __slots__ = ("_base", "_include_usage", "_prefix", "_suffix")

    _object = ""
    _content_key = b""  # how a content choice starts, after '"choices":[{'

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        self._base: dict[str, Any] = {
            "id": completion_id,
            "object": self._object,
            "created": created,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
        }
        self._include_usage = include_usage
        head = dumps(self._base)[:-1]  # without the closing brace
        usage = b',"usage":null' if include_usage else b""
        self._prefix = b"data: " + head + b',"choices":[{' + self._content_key
        self._suffix = b',"logprobs":null,"finish_reason":null}]' + usage + b"}\n\n"

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        obj = {**self._base, "choices": choices}
        if self._include_usage:
            obj["usage"] = usage
        return _event(obj)

    def usage(self, usage: dict[str, int]) -> bytes:
        return self._chunk([], usage)

    def empty(self) -> bytes:
        """A chunk with empty ``choices`` (the EMPTY_CHOICES fault)."""
        return self._chunk([])

    def broken(self) -> bytes:
        """An event whose data is cut-off JSON (the MALFORMED_JSON fault)."""
        return self._prefix + b'"trunc\n\n'


class ChatChunks(_Chunks):
    """Encoder for one streamed chat completion."""

    __slots__ = ()
    _object = "chat.completion.chunk"
    _content_key = b'"index":0,"delta":{"content":'

    def role(self) -> bytes:
        delta = {"role": "assistant", "content": "", "refusal": None}
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def content(self, text: str) -> bytes:
        # The delta object closes before the shared suffix.
        return self._prefix + json.dumps(text, ensure_ascii=False).encode() + b"}" + self._suffix

    def finish(self, reason: str) -> bytes:
        return self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}])


class CompletionChunks(_Chunks):
    """Encoder for one streamed text completion (possibly several prompts)."""

    __slots__ = ()
    _object = "text_completion"
    _content_key = b'"text":'

    def content(self, text: str, index: int = 0) -> bytes:
        encoded = json.dumps(text, ensure_ascii=False).encode()
        return self._prefix + encoded + b',"index":%d' % index + self._suffix

    def finish(self, reason: str, index: int = 0) -> bytes:
        choice = {"text": "", "index": index, "logprobs": None, "finish_reason": reason}
        return self._chunk([choice])


def chat_body(
    completion_id: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str,
    usage: dict[str, int],
    *,
    empty: bool = False,
) -> bytes:
    message = {"role": "assistant", "content": text, "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    return dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [] if empty else [choice],
            "usage": usage,
        }
    )


def completion_body(
    completion_id: str,
    created: int,
    model: str,
    choices: list[tuple[str, str]],
    usage: dict[str, int],
    *,
    empty: bool = False,
) -> bytes:
    """``choices`` holds ``(text, finish_reason)`` per prompt."""
    out = [
        {"text": text, "index": i, "logprobs": None, "finish_reason": finish}
        for i, (text, finish) in enumerate(choices)
    ]
    return dumps(
        {
            "id": completion_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [] if empty else out,
            "usage": usage,
        }
    )


def error_body(
    message: str, type_: str, code: str | int | None = None, param: str | None = None
) -> bytes:
    return dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


_STATUS_ERRORS: dict[int, tuple[str, str, str | int | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    408: ("Request timed out.", "timeout", None),
    409: ("Conflict: a concurrent request is in progress.", "conflict", None),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: ("Rate limit reached. Please try again later.", "requests", "rate_limit_exceeded"),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "cf_bad_gateway", 502),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "cf_gateway_timeout", 504),
}


def status_error_body(status: int) -> bytes:
    """OpenAI's body for an error of this status (a generic one for unlisted statuses)."""
    message, type_, code = _STATUS_ERRORS.get(status, (f"HTTP {status}.", "server_error", None))
    return error_body(message, type_, code)


def rate_limit_body(model: str, retry_after: float) -> bytes:
    return error_body(
        f"Rate limit reached for {model} in organization org-loopback on requests per min (RPM): "
        f"Limit 60, Used 60, Requested 1. Please try again in {retry_after:g}s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    )


def context_length_body(limit: int, used: int) -> bytes:
    return error_body(
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {used} tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    )


def invalid_key_body(presented: str) -> bytes:
    """401 as OpenAI words it, echoing only a masked form of the key, as OpenAI does."""
    masked = f"{presented[:3]}{'*' * 12}{presented[-4:]}" if len(presented) > 12 else "***"
    return error_body(
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )
