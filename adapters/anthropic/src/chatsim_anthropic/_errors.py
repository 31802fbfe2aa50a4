"""Anthropic failures into chatsim's exception tree, at this one boundary.

HTTP statuses go through the core's one mapping (``chatsim.targets.kit.error_for_status``),
which reads Anthropic's envelope ``{"type": "error", "error": {"type", "message"}}`` too::

    HTTP status / stream event                          chatsim error
    429 rate_limit_error                                RateLimitError (retry-after honoured)
    529 overloaded_error, 500 api_error, 5xx, 408/409   TransientError (retry-after honoured)
    401 authentication_error, 403 permission_error      AuthenticationError
    400 invalid_request_error (prompt too long too),    PermanentError
    404, 413, other 4xx
    an ``error`` event inside a 200 stream              by its ``error.type``, as the status it
                                                        stands for (overloaded_error: 529, ...)
    connection reset, timeout, cut or malformed stream  TransientError

The error type is carried as the error's code (``anthropic answered HTTP 529
(overloaded_error): ...``), followed by the model and the endpoint the request went to (``for
model 'claude-x' at https://api.anthropic.com/v1/messages``). Messages and recorded headers
are scrubbed of known secrets.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

import anthropic

from chatsim import TargetError
from chatsim.targets.kit import error_for_status, transient_error

__all__ = ["PROVIDER", "error_from_sdk", "error_from_status", "status_of_error_type"]

PROVIDER: Final = "anthropic"

#: The HTTP status each Anthropic ``error.type`` is documented with; an ``error`` event that
#: arrives inside a 200 stream is classified as that status.
_STATUS_OF_TYPE: Final[dict[str, int]] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def _envelope(body: Any) -> tuple[str | None, str | None]:
    """``(error.type, error.message)`` of an Anthropic error body (already parsed JSON)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    kind, message = error.get("type"), error.get("message")
    return (
        kind if isinstance(kind, str) and kind else None,
        message if isinstance(message, str) and message else None,
    )


def status_of_error_type(kind: str | None) -> int:
    """The HTTP status an Anthropic ``error.type`` stands for (unknown types: 500)."""
    return _STATUS_OF_TYPE.get(kind or "", 500)


def error_from_status(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: Any,
    *,
    endpoint: object | None = None,
    model: str | None = None,
    provider: str = PROVIDER,
) -> TargetError:
    """The chatsim error for an Anthropic HTTP error response (``body``: bytes or parsed) to
    a request for ``model`` at ``endpoint`` (its URL); ``provider`` names the profile
    (``bedrock`` for Claude on Amazon Bedrock)."""
    if isinstance(body, bytes | bytearray):
        try:
            body = json.loads(body)
        except ValueError:
            body = body.decode("utf-8", "replace")
    kind, message = _envelope(body)
    return error_for_status(
        status,
        message,
        headers=headers,
        body=body,
        code=kind,
        provider=provider,
        endpoint=endpoint,
        model=model,
    )


_PARSE_ERRORS: Final = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _raw_transport_errors() -> tuple[type[BaseException], ...]:
    """HTTP-library errors an SDK stream may let escape (httpx's or httpx2's), plus OSError."""
    found: list[type[BaseException]] = [OSError]
    for module in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_RAW_TRANSPORT_ERRORS: Final = _raw_transport_errors()


def _url_of(response: Any) -> object | None:
    """The URL an httpx response answered (None for one built without its request)."""
    try:
        url: object = response.request.url
    except (AttributeError, RuntimeError):
        return None
    return url


def error_from_sdk(
    exc: BaseException,
    kept: Mapping[str, str],
    *,
    model: str | None = None,
    provider: str = PROVIDER,
) -> TargetError | None:
    """The chatsim error for an exception the SDK (or its stream) raised; None if foreign.

    ``kept`` are the response headers already recorded (a failure mid-stream keeps them);
    ``model`` is the request's, named in status errors beside the URL the SDK sent it to;
    ``provider`` is the profile that sent it (``anthropic`` or ``bedrock``).
    """
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        headers: Iterable[tuple[str, str]] = exc.response.headers.items()
        if status < 300:  # an ``error`` event inside a streamed 200
            kind, _ = _envelope(exc.body)
            status, headers = status_of_error_type(kind), kept.items()
        url = _url_of(exc.response)
        return error_from_status(
            status, headers, exc.body, endpoint=url, model=model, provider=provider
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return transient_error(provider, "read timed out", headers=kept)
    if isinstance(exc, anthropic.APIConnectionError):
        return transient_error(provider, f"connection failed: {exc}", headers=kept)
    if isinstance(exc, anthropic.APIError):  # a body the SDK could not read
        return transient_error(provider, f"bad reply: {exc}", headers=kept)
    if isinstance(exc, _RAW_TRANSPORT_ERRORS):
        return transient_error(provider, f"connection failed: {type(exc).__name__}", headers=kept)
    if isinstance(exc, _PARSE_ERRORS):
        return transient_error(provider, f"malformed reply: {exc}", headers=kept)
    return None
