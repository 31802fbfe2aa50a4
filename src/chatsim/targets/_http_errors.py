"""HTTP failures into chatsim's exception tree: the one mapping every adapter uses.

The status decides, with one body hint (OpenAI's ``insufficient_quota`` code)::

    status                            error                 what the core does
    429, code insufficient_quota      QuotaExceededError    stops the run (waiting cannot help)
    429                               RateLimitError        retries after Retry-After / backoff
    401, 403                          AuthenticationError   stops the run
    408, 409, 5xx                     TransientError        retries (Retry-After honoured)
    any other (400, 404, 422, 3xx)    PermanentError        ends the episode

Failures without a status are ``transient_error``; of those, a connection that could not be
set up in time (``is_connect_timeout``: aiohttp's ``ConnectionTimeoutError``, httpx's and
httpcore's ``ConnectTimeout`` anywhere in the chain) is ``connect_timeout_error``: never sent,
so it is not a read timeout and is recorded apart.

A context-length refusal is a 400, so permanent; ``is_context_length_error`` recognises it for a
caller that can shorten its prompt and try again (the served simulator). ``Retry-After`` (in
each form ``parse_retry_after`` reads) becomes the error's ``retry_after``; the recorded
headers are the allow-listed ones, secrets scrubbed; so is the message.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from chatsim._exceptions import (
    AttemptTimeoutError,
    AuthenticationError,
    PermanentError,
    QuotaExceededError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim._util._redact import keep_recorded_headers, scrub
from chatsim.targets._error_location import error_location
from chatsim.targets._retry import ConnectTimeoutError, parse_retry_after

__all__ = [
    "ConnectTimeoutError",
    "as_connect_timeout",
    "connect_timeout_error",
    "error_for_status",
    "is_connect_timeout",
    "is_context_length_error",
    "request_id_of",
    "transient_error",
]

#: (top-level package, class name) of the HTTP libraries' connect-timeout errors. Matched by
#: class, never by message, and without importing the libraries (an adapter may use any one).
_CONNECT_TIMEOUTS: Final = frozenset(
    {
        ("aiohttp", "ConnectionTimeoutError"),
        ("httpx", "ConnectTimeout"),
        ("httpx2", "ConnectTimeout"),
        ("httpcore", "ConnectTimeout"),
        ("httpcore2", "ConnectTimeout"),
    }
)

_TRANSIENT_4XX: Final = frozenset({408, 409})
_AUTH: Final = frozenset({401, 403})
#: Error codes meaning the account is spent, not busy: no wait fixes them.
_QUOTA_CODES: Final = frozenset({"insufficient_quota"})
_REQUEST_ID_HEADERS: Final = ("x-request-id", "apim-request-id", "request-id")
_MAX_MESSAGE: Final = 300
_MAX_TEXT: Final = _MAX_MESSAGE + 60
# vLLM's, OpenAI's and Anthropic's wordings of "the prompt does not fit the context".
_TOO_LONG: Final = re.compile(
    r"context.length|maximum model length|prompt .*too long", re.IGNORECASE
)


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id (OpenAI's, Azure APIM's, ``request-id``), or None.

    ``headers`` has lower-case names, as ``keep_recorded_headers`` returns them.
    """
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _compact(text: str) -> str:
    return " ".join(text.split())[:_MAX_MESSAGE]


def _error_fields(body: Any) -> tuple[str, str | None]:
    """``(message, code)`` of an error body: bytes, str or already parsed.

    Reads the common envelope ``{"error": {"message": ..., "code": ...}}`` (OpenAI, Azure,
    current vLLM), a top-level ``{"message": ..., "code": ...}`` (older vLLM) and
    ``{"error": "text"}``; a code that is not a string (vLLM repeats the status) is dropped.
    Any other body is its own message, whitespace collapsed and cut to 300 characters.
    """
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return _compact(body), None
    else:
        parsed = body
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    code: str | None = None
    if isinstance(error, dict):
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, str) and raw_code else None
        if error.get("message"):
            return str(error["message"]), code
    elif isinstance(error, str) and error:
        return error, None
    if body is None or body == "":
        return "", code
    shown = body if isinstance(body, str) else json.dumps(body, default=str)
    return _compact(shown), code


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): v for k, v in items}


def error_for_status(
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    body: Any = None,
    code: str | None = None,
    request_id: str | None = None,
    provider: str = "the server",
    endpoint: object | None = None,
    model: str | None = None,
    model_kind: str = "model",
) -> TargetError:
    """The chatsim error for an HTTP error response (table in the module docstring).

    ``message`` and ``code`` default to what the error ``body`` (bytes, str or parsed JSON)
    says; pass them when a vendor SDK has already parsed its own format. ``request_id``
    defaults to the usual request-id headers. ``provider`` opens the message
    (``"openai answered HTTP 429 (insufficient_quota): ..."``). Call it for every status of
    300 or more that the HTTP library did not follow.

    ``endpoint`` (the request's URL; shown without its query) and ``model`` (named as
    ``model_kind``, e.g. ``"deployment"``) follow the status, never cut: ``"azure answered
    HTTP 404 for deployment 'gpt4o' at https://res.openai.azure.com/openai/deployments/gpt4o/
    chat/completions: ..."``. Every adapter passes both, so no permanent error is anonymous.
    """
    lower = _lower(headers)
    if message is None or code is None:
        found_message, found_code = _error_fields(body)
        message = found_message if message is None else message
        code = found_code if code is None else code
    text = f"{provider} answered HTTP {status}"
    if code:
        text += f" ({code})"
    where = error_location(endpoint, model, model_kind)
    text += where
    if message:
        text += f": {message}"
    text = scrub(text)[: _MAX_TEXT + len(where)]  # the vendor's words are cut, never the where
    meta: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id or request_id_of(lower),
        "headers": keep_recorded_headers(lower),
    }
    if status == 429 and code in _QUOTA_CODES:
        return QuotaExceededError(text, **meta)
    if status == 429:
        return RateLimitError(text, retry_after=parse_retry_after(lower, time.time()), **meta)
    if status in _AUTH:
        return AuthenticationError(text, **meta)
    if status >= 500 or status in _TRANSIENT_4XX:
        return TransientError(text, retry_after=parse_retry_after(lower, time.time()), **meta)
    return PermanentError(text, **meta)


def transient_error(
    provider: str,
    what: str,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> TransientError:
    """A retryable failure with no HTTP status: a reset, a read timeout, a malformed or cut
    reply. The message (``"<provider>: <what>"``) is scrubbed and cut to length."""
    return TransientError(
        scrub(f"{provider}: {what}")[:_MAX_TEXT],
        request_id=request_id,
        headers=dict(headers or {}),
    )


def is_connect_timeout(error: BaseException | None) -> bool:
    """Whether ``error``, or any error in its ``__cause__`` / ``__context__`` chain, is an HTTP
    library's connect timeout (the request was never sent), or a ``ConnectTimeoutError``."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ConnectTimeoutError):
            return True
        for cls in type(error).__mro__:
            if (cls.__module__.partition(".")[0], cls.__name__) in _CONNECT_TIMEOUTS:
                return True
        error = error.__cause__ or error.__context__
    return False


def connect_timeout_error(
    provider: str,
    what: str = "connect timed out; the request was never sent",
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ConnectTimeoutError:
    """A connection that could not be set up in time: retried, recorded as ``connect_timeout``.
    The message (``"<provider>: <what>"``) is scrubbed and cut to length."""
    return ConnectTimeoutError(
        scrub(f"{provider}: {what}")[:_MAX_TEXT],
        request_id=request_id,
        headers=dict(headers or {}),
    )


def as_connect_timeout(error: TargetError, provider: str) -> TargetError:
    """``error`` as a ``ConnectTimeoutError`` when it is a plain transient failure caused by a
    connect timeout (an adapter that called it a read timeout or a connection failure); else
    ``error`` itself (the original chained as the cause). The core applies it to every
    adapter's failures, so each one records connect timeouts apart, whichever way its own
    mapping words them; ``provider`` opens the new message."""
    if (
        type(error).category != "transient"
        or isinstance(error, ConnectTimeoutError | AttemptTimeoutError)
        or not is_connect_timeout(error.__cause__ or error.__context__)
    ):
        return error
    promoted = connect_timeout_error(provider, request_id=error.request_id, headers=error.headers)
    promoted.__cause__ = error
    return promoted


def is_context_length_error(error: TargetError) -> bool:
    """Whether ``error`` is a server's 400 for a prompt beyond its context.

    Recognised by the wording (or the ``context_length_exceeded`` code) the message carries,
    as vLLM, OpenAI and Anthropic put it; the error stays a ``PermanentError`` either way.
    """
    return error.status_code == 400 and _TOO_LONG.search(str(error)) is not None
