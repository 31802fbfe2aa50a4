"""The loopback server's request side: what the API accepts, and how a reply is shaped.

Tokens are whitespace-separated words, as in ``chatsim.testing``'s server: deterministic and
cheap, which is all a test needs from ``usage``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

__all__ = ["chunks", "count_tokens", "presented_key", "problem", "shape"]

_WORD = re.compile(r"\s*\S+")


def count_tokens(text: str) -> int:
    """Whitespace-separated words: the server's stand-in for tokens."""
    return len(text.split())


def chunks(text: str, n: int | None) -> list[str]:
    if not text:
        return []
    if n is None:
        words = _WORD.findall(text)
        rest = text[sum(map(len, words)) :]
        return [*words[:-1], words[-1] + rest] if words else [text]
    n = min(n, len(text))
    size, extra = divmod(len(text), n)
    bounds = list(itertools.accumulate(size + (1 if i < extra else 0) for i in range(n)))
    return [text[a:b] for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


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


def presented_key(request: web.Request) -> str | None:
    """The key in ``x-api-key``, else in ``Authorization: Bearer`` (newer SDKs send that)."""
    auth = request.headers.get("Authorization", "")
    bearer = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
    return request.headers.get("x-api-key") or bearer


def problem(body: Any) -> str | None:
    """Why the API would answer 400 to this body, or None."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required (a positive integer)"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f'messages.{i}.role: Input should be "user" or "assistant"'
    return None
