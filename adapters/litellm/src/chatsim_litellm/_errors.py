"""litellm failures into chatsim's exception tree, at this one boundary.

litellm already maps every provider's failures onto its own exception classes (OpenAI's
names); the class decides the chatsim category, the status is the provider's where litellm
kept it, and the core's one mapping (``chatsim.targets.kit.error_for_status``) builds the
error, reading ``Retry-After`` from the provider's response headers::

    litellm exception                                   chatsim error
    RateLimitError (429)                                RateLimitError, retry-after honoured
    RateLimitError, body code insufficient_quota,       QuotaExceededError (stops the run:
      PaymentRequiredError or any 402 (out of           waiting cannot help)
      credits), BudgetExceededError
    AuthenticationError (401), PermissionDeniedError    AuthenticationError (stops the run)
      (403)
    ContextWindowExceededError, BadRequestError,        PermanentError (the episode ends with
      NotFoundError, UnprocessableEntityError,          target_error)
      ContentPolicyViolationError, other 4xx
    InternalServerError, ServiceUnavailableError,       TransientError, retry-after honoured
      BadGatewayError, 5xx, 408, 409
    MidStreamFallbackError (a stream that broke         as the provider's error inside it,
      after it began)                                   else TransientError
    Timeout, APIConnectionError (resets, cut or         TransientError
      malformed streams), APIResponseValidationError,
      a reply without choices or finish_reason

Messages are litellm's (``litellm.RateLimitError: ...``), scrubbed of every registered
secret and anything key-shaped, and cut to length; recorded headers are allow-listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any, Final

from chatsim import QuotaExceededError, TargetError
from chatsim.targets.kit import (
    error_for_status,
    keep_recorded_headers,
    request_id_of,
    transient_error,
)

__all__ = ["PROVIDER", "error_from_litellm"]

PROVIDER: Final = "litellm"

#: Error codes meaning the account is spent, not busy (OpenAI's, in the body's ``code`` or
#: ``type``; litellm overwrites the exception's own ``code`` with "429").
_QUOTA_CODES: Final = frozenset({"insufficient_quota"})
_PARSE_ERRORS: Final = (ValueError, KeyError, TypeError, AttributeError, IndexError, OSError)


def _headers(exc: BaseException) -> list[tuple[str, str]]:
    """The provider's response headers an exception carries (none when it has no response)."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return []
    items: Iterable[Any] = headers.items() if hasattr(headers, "items") else headers
    return [(str(k), str(v)) for k, v in items]


def _status(exc: BaseException, default: int, allowed: Iterable[int] | None = None) -> int:
    """The provider's HTTP status, if it is one ``allowed`` (any error status by default).

    The provider's own status first (``provider_status_code``, or the status of the response
    litellm kept): litellm's ``status_code`` is its class's (an Anthropic 529
    ``overloaded_error`` becomes an InternalServerError with 500).
    """
    response_status = getattr(getattr(exc, "response", None), "status_code", None)
    candidates = (
        getattr(exc, "provider_status_code", None),
        response_status if _headers(exc) else None,
        getattr(exc, "status_code", None),
    )
    for found in candidates:
        if isinstance(found, int) and found >= 300 and (allowed is None or found in allowed):
            return found
    return default


def _message(exc: BaseException) -> str:
    """litellm's message, first line only (some carry a whole traceback after it)."""
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc)
    return text.strip().split("\n", 1)[0]


def _is_quota(exc: BaseException) -> bool:
    """Whether the error body (``{"code": ...}``, or inside ``{"error": ...}``) says so."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict):
        return False
    return body.get("code") in _QUOTA_CODES or body.get("type") in _QUOTA_CODES


def _from_status(exc: BaseException, status: int, code: str | None = None) -> TargetError:
    return error_for_status(
        status, _message(exc), headers=_headers(exc), code=code, provider=PROVIDER
    )


def _quota(exc: BaseException, status: int) -> QuotaExceededError:
    found = _from_status(exc, status, code="insufficient_quota")
    return QuotaExceededError(
        str(found), status_code=status, request_id=found.request_id, headers=found.headers
    )


def _transient(exc: BaseException, what: str, kept: Mapping[str, str] | None) -> TargetError:
    """A retryable failure; ``kept`` (the stream's headers) stand in where ``exc`` has none."""
    headers = keep_recorded_headers(_headers(exc)) or dict(kept or {})
    return transient_error(
        PROVIDER, f"{what}: {_message(exc)}", request_id=request_id_of(headers), headers=headers
    )


def error_from_litellm(
    sdk: ModuleType, exc: BaseException, kept: Mapping[str, str] | None = None
) -> TargetError | None:
    """The chatsim error for an exception one litellm call raised; None if foreign.

    ``sdk`` is the loaded ``litellm`` module (its exception classes; ``litellm.exceptions``
    for the one it does not re-export). ``kept`` are the recorded headers of a stream that
    broke after it began (its request id then reaches the error). The order of the checks
    matters where litellm's classes subclass each other (ContextWindowExceededError is a
    BadRequestError, Timeout an APIConnectionError).
    """
    if isinstance(exc, sdk.exceptions.MidStreamFallbackError):
        # A failure after the stream began (an ``error`` event, a reset): the provider's
        # own error is inside, and decides, where litellm kept it.
        inner = exc.original_exception
        found = error_from_litellm(sdk, inner, kept) if isinstance(inner, Exception) else None
        return found if found is not None else _transient(exc, "the stream broke", kept)
    if isinstance(exc, sdk.RateLimitError):
        return _quota(exc, 429) if _is_quota(exc) else _from_status(exc, 429)
    if isinstance(exc, sdk.PaymentRequiredError | sdk.BudgetExceededError) or (
        _status(exc, 0) == 402  # litellm keeps some providers' 402 a plain APIError
    ):
        return _quota(exc, _status(exc, 402))
    if isinstance(exc, sdk.AuthenticationError | sdk.PermissionDeniedError):
        return _from_status(exc, _status(exc, 401, (401, 403)))
    if isinstance(exc, sdk.BadRequestError | sdk.NotFoundError | sdk.UnprocessableEntityError):
        permanent = [s for s in range(400, 500) if s not in (401, 403, 408, 409, 429)]
        return _from_status(exc, _status(exc, 400, permanent))
    if isinstance(exc, sdk.Timeout):
        # A server's 408 or 504 carries a response; a client-side read timeout does not.
        if getattr(exc, "response", None) is not None and _headers(exc):
            return _from_status(exc, _status(exc, 408))
        return _transient(exc, "timed out", kept)
    if isinstance(exc, sdk.APIConnectionError | sdk.APIResponseValidationError):
        return _transient(exc, "connection failed or reply broken", kept)
    server_side = sdk.InternalServerError | sdk.ServiceUnavailableError | sdk.BadGatewayError
    if isinstance(exc, server_side | sdk.APIError):
        status = _status(exc, 500)
        return _from_status(exc, status) if _headers(exc) else _transient(exc, "failed", kept)
    if isinstance(exc, _PARSE_ERRORS):
        return _transient(exc, "malformed reply or connection failed", kept)
    return None
