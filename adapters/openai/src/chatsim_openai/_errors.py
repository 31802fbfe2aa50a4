"""HTTP failures into chatsim's exception tree: one classification for both transports.

Status codes decide (never message text): 429 is a rate limit (except OpenAI's
``insufficient_quota``, which no wait fixes); 408, 409 and 5xx are transient; 401 and 403 are
authentication; every other 4xx is permanent (400 context-length included).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from chatsim._exceptions import (
    AuthenticationError,
    PermanentError,
    QuotaExceededError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim._util._redact import keep_recorded_headers, scrub
from chatsim.targets import parse_retry_after  # one parser, the core's

__all__ = ["error_from_status", "request_id_of", "transient"]

_TRANSIENT_4XX = frozenset({408, 409})
_REQUEST_ID_HEADERS = ("x-request-id", "apim-request-id", "request-id")
_MAX_MESSAGE = 300


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): v for k, v in items}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id (OpenAI's, Azure APIM's). ``headers``: lower-case names."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _error_fields(body: Any) -> tuple[str, str | None]:
    """``(message, code)`` from an OpenAI error body (bytes, str or parsed)."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return " ".join(body.split())[:_MAX_MESSAGE], None
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        return (str(message) if message else "", str(code) if code is not None else None)
    return (str(error) if error is not None else "", None)


def error_from_status(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: Any,
    *,
    provider: str,
) -> TargetError:
    """The chatsim error for an HTTP error response."""
    lower = _lower(headers)
    message, code = _error_fields(body)
    text = f"{provider} answered HTTP {status}"
    if code:
        text += f" ({code})"
    if message:
        text += f": {message}"
    text = scrub(text)[: _MAX_MESSAGE + 60]
    meta: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id_of(lower),
        "headers": keep_recorded_headers(lower),
    }
    if status == 429 and code == "insufficient_quota":  # waiting cannot help: stop the run
        return QuotaExceededError(text, **meta)
    if status == 429:
        return RateLimitError(text, retry_after=parse_retry_after(lower, time.time()), **meta)
    if status in (401, 403):
        return AuthenticationError(text, **meta)
    if status >= 500 or status in _TRANSIENT_4XX:
        return TransientError(text, retry_after=parse_retry_after(lower, time.time()), **meta)
    return PermanentError(text, **meta)


def transient(
    provider: str,
    what: str,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> TransientError:
    """A transient error that has no HTTP status (connection, timeout, malformed reply)."""
    return TransientError(
        scrub(f"{provider}: {what}")[: _MAX_MESSAGE + 60],
        request_id=request_id,
        headers=dict(headers or {}),
    )
