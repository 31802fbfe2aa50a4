"""Keep secrets out of everything chatsim writes.

Two mechanisms, both cheap enough for the hot path:
- headers are kept by allow-list (request ids, rate-limit headers), never by deny-list;
- every secret chatsim is handed (API keys, tokens) is registered here, and ``scrub`` replaces
  any occurrence of one in free text (error messages, logs) with ``***``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping

__all__ = [
    "RECORDED_HEADER_PREFIXES",
    "keep_recorded_headers",
    "register_secret",
    "register_secret_headers",
    "scrub",
]

#: Response headers worth recording. Everything else is dropped.
RECORDED_HEADER_PREFIXES: tuple[str, ...] = (
    "x-request-id",
    "request-id",
    "apim-request-id",
    "x-ratelimit-",
    "anthropic-ratelimit-",  # Anthropic's own names for the same (limit/remaining/reset)
    "retry-after",
    "retry-after-ms",
    "openai-processing-ms",
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
# Patterns that look like keys even when nobody registered them (belt and braces).
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{16,}|Bearer\s+[A-Za-z0-9_\-.]{16,})")


def register_secret(value: str | None) -> None:
    """Remember a secret so that ``scrub`` removes it from any text. Short values are ignored."""
    global _pattern
    if not value or len(value) < 8:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


_SECRET_HEADER_HINTS = ("key", "auth", "token", "secret")


def register_secret_headers(headers: Mapping[str, str]) -> None:
    """Register the values of headers whose names look secret (``api-key``, ``Authorization``,
    ``x-goog-api-key``, ...): extra headers an adapter is given must not reach records."""
    for name, value in headers.items():
        if any(hint in name.lower() for hint in _SECRET_HEADER_HINTS):
            register_secret(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret and key-like token replaced by ``***``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub("***", text)
    return _KEYLIKE.sub("***", text)


def keep_recorded_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """The allow-listed headers, lower-cased names, secrets scrubbed from values."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    kept: dict[str, str] = {}
    for name, value in items:
        lower = name.lower()
        if lower.startswith(RECORDED_HEADER_PREFIXES):
            kept[lower] = scrub(value)
    return kept
