"""The Gemini REST wire format (v1beta; Vertex AI's v1beta1), both ways, for the loopback server.

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
  "details": [...]}}``, a ``google.rpc.RetryInfo`` detail carrying ``retryDelay`` on a 429;
- refusals the real API makes before generating (``refusal_of``): no ``contents``, or a first
  content whose role is not ``user``, is a 400 INVALID_ARGUMENT with a ``google.rpc.BadRequest``
  field violation.

Vertex AI serves the same request and reply bodies under
``/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}``, with an
OAuth 2 access token (``Authorization: Bearer``) instead of an API key; its 401s say so
(``VERTEX_MESSAGES``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MESSAGES",
    "STATUS_NAMES",
    "VERTEX_MESSAGES",
    "VERTEX_MISSING_TOKEN",
    "dumps",
    "error_body",
    "event",
    "final_event",
    "openai_body",
    "refusal_of",
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
_OAUTH = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
#: Vertex AI's wording where it differs: it authenticates with OAuth 2 access tokens.
VERTEX_MESSAGES = {
    **MESSAGES,
    401: f"Request had invalid authentication credentials. {_OAUTH}",
}
#: Vertex AI's answer to a request without a bearer token.
VERTEX_MISSING_TOKEN = f"Request is missing required authentication credential. {_OAUTH}"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
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


def refusal_of(body: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, description)`` of what makes the real API refuse ``body`` with a 400 before
    generating anything, or None: no ``contents``, or a conversation that does not open with
    the user (roles are ``user`` and ``model``; Gemini rejects a ``model`` first turn)."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "contents", "contents is not specified"
    first = contents[0]
    role = first.get("role") if isinstance(first, dict) else None
    if role != "user":
        return "contents[0].role", f"the first content must have role 'user', not {role!r}"
    return None


def error_body(
    status: int,
    message: str,
    *,
    retry_delay: float | None = None,
    violation: tuple[str, str] | None = None,
) -> bytes:
    """The ``google.rpc.Status`` envelope Gemini answers errors with; ``retry_delay`` adds a
    ``RetryInfo`` detail, ``violation`` (field, description) a ``BadRequest`` one."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    details: list[dict[str, Any]] = []
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay:g}s"}
        )
    if violation is not None:
        field, description = violation
        violations = [{"field": field, "description": description}]
        details.append({"@type": _BAD_REQUEST, "fieldViolations": violations})
    if details:
        error["details"] = details
    return dumps({"error": error})
