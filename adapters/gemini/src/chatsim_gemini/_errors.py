"""google-genai failures into chatsim's exception tree: the adapter's one boundary.

The status decides, through the core's one mapping (``chatsim.targets.kit.error_for_status``)::

    google.genai error / failure                        chatsim error
    APIError 429 RESOURCE_EXHAUSTED                     RateLimitError (Retry-After, else the
                                                        body's google.rpc.RetryInfo retryDelay)
    APIError 401 UNAUTHENTICATED, 403 PERMISSION_DENIED AuthenticationError
    APIError 400 with reason API_KEY_INVALID            AuthenticationError (Gemini answers a
                                                        bad key with 400 INVALID_ARGUMENT)
    APIError 408, 409, 5xx (INTERNAL, UNAVAILABLE, ...) TransientError
    APIError other 4xx (INVALID_ARGUMENT, NOT_FOUND)    PermanentError
    connection errors, timeouts, cut or malformed       TransientError
    streams, replies without candidates
    a prompt blocked by safety filters                  PermanentError (HTTP 200, its
                                                        blockReason as the code)
    google-auth: a token refresh refused (Vertex AI)    AuthenticationError (RefreshError;
                                                        TransientError where it says retryable)
    google-auth: the token endpoint unreachable         TransientError (TransportError)

The google.rpc status string (``RESOURCE_EXHAUSTED``) is the error's code in its message,
followed by the model and the URL the request went to (query left out: ``?alt=sse``).
Messages and headers are scrubbed of every registered secret (the API key travels in the
``x-goog-api-key`` request header, which is never recorded).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.auth import exceptions as auth_errors
from google.genai import errors as genai_errors

from chatsim import AuthenticationError, PermanentError, TargetError
from chatsim.targets.kit import error_for_status, keep_recorded_headers, scrub, transient_error

__all__ = [
    "FOREIGN_ERRORS",
    "error_from_api_error",
    "error_from_status",
    "headers_of",
    "translate",
]


def _http_errors() -> tuple[type[BaseException], ...]:
    """The HTTP libraries' own errors, which the SDK lets escape (aiohttp, httpx)."""
    found: list[type[BaseException]] = []
    for module, name in (("aiohttp", "ClientError"), ("httpx", "HTTPError")):
        try:
            found.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


#: What one attempt may raise besides chatsim errors: the SDK's API errors, the HTTP
#: libraries', sockets and timeouts, and parse failures of a malformed reply (pydantic's
#: ValidationError and json's JSONDecodeError are ValueErrors).
FOREIGN_ERRORS: tuple[type[BaseException], ...] = (
    genai_errors.APIError,
    auth_errors.GoogleAuthError,
    *_http_errors(),
    OSError,
    TimeoutError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
)

_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_KEY_INVALID = "API_KEY_INVALID"


def headers_of(response: Any) -> list[tuple[str, str]]:
    """The (name, value) pairs of an SDK or HTTP-library response's headers, or none."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    return [(str(k), str(v)) for k, v in items]


def _details(body: Any) -> list[Any]:
    inner = body.get("error", body) if isinstance(body, dict) else None
    found = inner.get("details") if isinstance(inner, dict) else None
    return found if isinstance(found, list) else []


def _retry_delay(details: Iterable[Any]) -> str | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "34s"``), as text."""
    for item in details:
        if isinstance(item, dict) and item.get("@type") == _RETRY_INFO:
            match = _DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return match.group(1)
    return None


def _key_invalid(details: Iterable[Any]) -> bool:
    return any(isinstance(d, dict) and d.get("reason") == _KEY_INVALID for d in details)


def _url_of(response: Any) -> object | None:
    """The URL an httpx (or aiohttp) response answered; None when it does not say."""
    for path in (("request", "url"), ("url",)):
        found: Any = response
        try:
            for name in path:
                found = getattr(found, name)
        except (AttributeError, RuntimeError):  # httpx: a response built without its request
            continue
        if found is not None:
            url: object = found
            return url
    return None


def error_from_api_error(
    error: genai_errors.APIError, *, provider: str = "gemini", model: str | None = None
) -> TargetError:
    """The chatsim error for a google-genai ``APIError`` (a ``ClientError`` or ``ServerError``)
    to a request for ``model``; the message names it and the URL it went to."""
    return error_from_status(
        int(error.code) if error.code else 500,
        error.details,
        headers_of(error.response),
        message=str(error.message or ""),
        code=str(error.status) if error.status else None,
        endpoint=_url_of(error.response),
        provider=provider,
        model=model,
    )


def error_from_status(
    status: int,
    body: Any,
    headers: Iterable[tuple[str, str]],
    *,
    message: str | None = None,
    code: str | None = None,
    endpoint: object | None = None,
    provider: str = "gemini",
    model: str | None = None,
) -> TargetError:
    """The chatsim error for an error reply: its status, its ``google.rpc.Status`` body
    (``{"error": {"message", "status", "details"}}``, parsed JSON) and headers. ``message``
    and ``code`` default to the body's."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    if message is None:
        message = str(inner.get("message") or body or "")
    if code is None and inner.get("status"):
        code = str(inner["status"])
    found_headers = {k.lower(): v for k, v in headers}
    details = _details(body)
    delay = _retry_delay(details)
    if delay is not None and not {"retry-after", "retry-after-ms"} & found_headers.keys():
        found_headers["retry-after"] = delay
    found = error_for_status(
        status,
        message,
        headers=found_headers,
        code=code,
        provider=provider,
        endpoint=endpoint,
        model=model,
    )
    if isinstance(found, PermanentError) and _key_invalid(details):
        return AuthenticationError(
            str(found),
            status_code=found.status_code,
            request_id=found.request_id,
            headers=found.headers,
        )
    return found


def _auth_error(
    error: auth_errors.GoogleAuthError, provider: str, kept: dict[str, str]
) -> TargetError:
    """A failure to get an access token (Vertex AI), before any request was sent."""
    what = f"getting a Google Cloud access token failed ({type(error).__name__}: {error})"
    if isinstance(error, auth_errors.TransportError) or getattr(error, "retryable", False):
        return transient_error(provider, what, headers=kept)
    hint = "; log in again (`gcloud auth application-default login`) or fix the key file"
    return AuthenticationError(scrub(f"{provider}: {what[:300]}{hint}"), headers=kept)


def translate(
    error: BaseException,
    *,
    provider: str,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
) -> TargetError:
    """Any failure of one attempt (for ``model``) as a chatsim error (``TargetError`` passes
    through)."""
    if isinstance(error, TargetError):
        return error
    if isinstance(error, genai_errors.APIError):
        return error_from_api_error(error, provider=provider, model=model)
    kept = keep_recorded_headers(headers or {})
    if isinstance(error, auth_errors.GoogleAuthError):
        return _auth_error(error, provider, kept)
    if isinstance(error, TimeoutError):
        return transient_error(provider, "read timed out", headers=kept)
    what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return transient_error(provider, f"connection failed or reply broken ({what})", headers=kept)
