"""The Gemini REST wire format (v1beta), both ways, for the loopback server.

Written from Google's API reference (``models.generateContent``, ``models.streamGenerateContent``,
``GenerateContentResponse``, the ``google.rpc.Status`` error envelope); translated to and from
the OpenAI chat completion format that ``LoopbackServer`` speaks (``_gemini_server`` is a
translating front over one):

- request: ``systemInstruction`` -> a system message, ``contents`` (roles ``user``/``model``)
  -> user/assistant messages, ``generationConfig`` (``temperature``, ``maxOutputTokens``,
  ``seed``, ``stopSequences``, ``topP``) -> the OpenAI fields;
- reply: ``candidates[0].content.parts[].text``, ``finishReason`` (``STOP``, ``MAX_TOKENS``,
  ...), ``usageMetadata`` (``promptTokenCount``, ``candidatesTokenCount``, ``totalTokenCount``),
  ``modelVersion``, ``responseId``;
- errors: ``{"error": {"code": 429, "message": ..., "status": "RESOURCE_EXHAUSTED",
  "details": [...]}}``, a ``google.rpc.RetryInfo`` detail carrying ``retryDelay`` on a 429.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MESSAGES",
    "STATUS_NAMES",
    "dumps",
    "error_body",
    "event",
    "final_event",
    "openai_body",
    "reply_of_chunk",
    "reply_of_completion",
]

#: google.rpc.Code names by HTTP status, as the Gemini API answers them.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
#: Gemini's wording of the errors the upstream's faults stand for (others keep its message).
MESSAGES = {
    401: "API key not valid. Please pass a valid API key.",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}
_CONFIG = {
    "temperature": "temperature",
    "maxOutputTokens": "max_tokens",
    "seed": "seed",
    "stopSequences": "stop",
    "topP": "top_p",
}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def event(obj: Any) -> bytes:
    """One server-sent event, framed as the Gemini API frames them."""
    return b"data: " + dumps(obj) + b"\r\n\r\n"


def _text(content: Any) -> str:
    parts = content.get("parts", []) if isinstance(content, dict) else []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def openai_body(model: str, body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """A ``generateContent`` body as an OpenAI chat completion body."""
    messages: list[dict[str, str]] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    for content in body.get("contents", []):
        role = "assistant" if content.get("role") == "model" else "user"
        messages.append({"role": role, "content": _text(content)})
    out: dict[str, Any] = {"model": model, "messages": messages}
    config = body.get("generationConfig") or {}
    for gemini_name, openai_name in _CONFIG.items():
        if gemini_name in config:
            out[openai_name] = config[gemini_name]
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }


def _response(
    model: str,
    response_id: str,
    text: str | None,
    finish: str | None,
    usage: Any = None,
    *,
    empty: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {"candidates": []}
    if not empty:
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": text or ""}]},
            "index": 0,
        }
        if finish is not None:
            candidate["finishReason"] = _FINISH.get(finish, finish.upper())
        out["candidates"] = [candidate]
    gemini_usage = _usage(usage)
    if gemini_usage is not None:
        out["usageMetadata"] = gemini_usage
    out["modelVersion"] = model
    out["responseId"] = response_id
    return out


def reply_of_completion(model: str, response_id: str, completion: Any) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` as a ``GenerateContentResponse``."""
    choices = completion.get("choices") or []
    if not choices:
        return _response(model, response_id, None, None, completion.get("usage"), empty=True)
    choice = choices[0]
    text = (choice.get("message") or {}).get("content")
    return _response(model, response_id, text, choice.get("finish_reason"), completion.get("usage"))


def reply_of_chunk(model: str, response_id: str, chunk: Any) -> dict[str, Any] | None:
    """A ``chat.completion.chunk`` as a streamed ``GenerateContentResponse``, or None for a
    chunk with nothing to say (the role chunk). The finish reason is held back by the caller
    and sent with the usage (Gemini's last event carries both)."""
    choices = chunk.get("choices") or []
    if not choices:
        if chunk.get("usage") is None:
            return _response(model, response_id, None, None, empty=True)
        return None
    text = (choices[0].get("delta") or {}).get("content")
    if not text:
        return None
    return _response(model, response_id, text, None)


def final_event(model: str, response_id: str, finish: str, usage: Any) -> bytes:
    return event(_response(model, response_id, "", finish, usage))


def error_body(status: int, message: str, *, retry_delay: float | None = None) -> bytes:
    """The ``google.rpc.Status`` envelope Gemini answers errors with."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if retry_delay is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay:g}s"}
        ]
    return dumps({"error": error})
