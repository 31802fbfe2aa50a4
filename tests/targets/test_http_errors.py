"""The one HTTP-status mapping (``chatsim.targets.kit``) and the kit's public surface.

The mapping replaced two copies (the openai adapter's and the served simulator's); the tests
marked "resolved" pin the behaviour where the two disagreed.
"""

from __future__ import annotations

import json

import pytest

import chatsim.targets.kit as kit
from chatsim import (
    AuthenticationError,
    PermanentError,
    QuotaExceededError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.targets import classify
from chatsim.targets.kit import (
    error_for_status,
    is_context_length_error,
    register_secret,
    request_id_of,
    transient_error,
)


def openai_body(message: str = "boom", code: str | int | None = None) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": "x", "param": None, "code": code}}
    ).encode()


def test_the_kit_is_exactly_what_adapters_are_given() -> None:
    assert set(kit.__all__) == {
        "ConnectTimeoutError",
        "LoopSession",
        "connect_timeout_error",
        "env_proxy",
        "sdk_timeout",
        "is_connect_timeout",
        "error_for_status",
        "is_context_length_error",
        "keep_recorded_headers",
        "register_secret",
        "request_id_of",
        "require_http_url",
        "scrub",
        "transient_error",
    }
    for name in kit.__all__:
        assert getattr(kit, name).__module__.startswith("chatsim."), name


@pytest.mark.parametrize(
    ("status", "expected", "outcome"),
    [
        (429, RateLimitError, "rate_limit"),
        (401, AuthenticationError, "auth"),
        (403, AuthenticationError, "auth"),
        (408, TransientError, "transient"),
        (409, TransientError, "transient"),
        (500, TransientError, "transient"),
        (502, TransientError, "transient"),
        (503, TransientError, "transient"),
        (504, TransientError, "transient"),
        (529, TransientError, "transient"),
        (400, PermanentError, "permanent"),
        (404, PermanentError, "permanent"),
        (413, PermanentError, "permanent"),
        (422, PermanentError, "permanent"),
        (418, PermanentError, "permanent"),
        (304, PermanentError, "permanent"),  # a redirect not followed is no reply either
    ],
)
def test_status_classes(status: int, expected: type[TargetError], outcome: str) -> None:
    error = error_for_status(status, headers={"X-Request-Id": "req_1"}, body=openai_body())
    assert type(error) is expected and classify(error) == outcome
    assert error.status_code == status and error.request_id == "req_1"
    assert error.headers == {"x-request-id": "req_1"}
    assert str(error) == f"the server answered HTTP {status}: boom"


def test_insufficient_quota_stops_the_run() -> None:
    # Resolved: the served simulator's copy retried it as a rate limit.
    body = openai_body("You exceeded your current quota", "insufficient_quota")
    error = error_for_status(429, headers={"retry-after": "1"}, body=body, provider="openai")
    assert type(error) is QuotaExceededError and classify(error) == "auth"
    assert str(error).startswith("openai answered HTTP 429 (insufficient_quota): You exceeded")


def test_the_status_decides_and_a_quota_code_only_matters_with_429() -> None:
    body = openai_body("quota", "insufficient_quota")
    assert type(error_for_status(400, body=body)) is PermanentError
    assert type(error_for_status(503, body=body)) is TransientError


def test_retry_after_reaches_rate_limits_and_transient_errors() -> None:
    # Resolved: the served simulator's copy left retry_after unset (the core still read the
    # recorded header, so waits did not change; the attribute now says what the header said).
    limited = error_for_status(429, headers={"Retry-After-Ms": "200"}, body=openai_body())
    assert isinstance(limited, RateLimitError) and limited.retry_after == 0.2
    busy = error_for_status(503, headers=[("Retry-After", "4")], body=b"<html>busy</html>")
    assert isinstance(busy, TransientError) and busy.retry_after == 4.0
    assert isinstance(error_for_status(503), TransientError)
    assert error_for_status(503).retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-id": "a"}, "a"),
        ({"apim-request-id": "b"}, "b"),  # Azure; resolved: the served copy read x-request-id only
        ({"Request-Id": "c"}, "c"),
        ({"x-request-id": "", "request-id": "d"}, "d"),
        ({}, None),
    ],
)
def test_request_ids(headers: dict[str, str], expected: str | None) -> None:
    assert error_for_status(500, headers=headers).request_id == expected
    assert request_id_of({k.lower(): v for k, v in headers.items()}) == expected


def test_an_explicit_request_id_message_and_code_win() -> None:
    error = error_for_status(
        429,
        "Your credit is spent",
        headers={"x-request-id": "from-header"},
        body=openai_body("from body", "rate_limit_exceeded"),
        code="insufficient_quota",
        request_id="req_explicit",
        provider="vendor",
    )
    assert type(error) is QuotaExceededError and error.request_id == "req_explicit"
    assert str(error) == "vendor answered HTTP 429 (insufficient_quota): Your credit is spent"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        # OpenAI, Azure, current vLLM.
        (openai_body("bad model", "model_not_found"), " HTTP 404 (model_not_found): bad model"),
        # Older vLLM: a top-level message, the status repeated as an integer code (dropped).
        (
            json.dumps({"object": "error", "message": "no such LoRA", "code": 404}),
            " HTTP 404: no such LoRA",
        ),
        ({"error": {"message": "parsed already", "code": None}}, " HTTP 404: parsed already"),
        ({"error": "just text"}, " HTTP 404: just text"),
        # Resolved: the openai copy dropped a body without a message; now it is shown.
        ({"detail": "Not Found"}, ' HTTP 404: {"detail": "Not Found"}'),
        # Resolved: the served copy showed repr(body[:200]); now whitespace is collapsed.
        (b"<html>\n  <b>Not   Found</b>\n</html>", " HTTP 404: <html> <b>Not Found</b> </html>"),
        (b"", " HTTP 404"),
        (None, " HTTP 404"),
    ],
)
def test_error_bodies(body: object, text: str) -> None:
    assert str(error_for_status(404, body=body, provider="p")) == "p answered" + text


def test_long_bodies_are_cut() -> None:
    error = error_for_status(500, body=b"x" * 10_000)
    assert len(str(error)) <= 360


def test_secrets_are_scrubbed_from_messages_and_headers() -> None:
    secret = "sk-planted-kit-secret-0123456789"
    register_secret(secret)
    error = error_for_status(
        401,
        headers={"x-request-id": f"id-{secret}", "authorization": f"Bearer {secret}"},
        body=openai_body(f"Incorrect API key provided: {secret}."),
    )
    assert secret not in str(error) and secret not in repr(error.headers)
    assert "authorization" not in error.headers


def test_transient_errors_without_a_status() -> None:
    secret = "planted-token-for-transient-1234"
    register_secret(secret)
    error = transient_error(
        "vendor", f"connection failed to {secret} " + "x" * 1000, request_id="r", headers={"a": "b"}
    )
    assert type(error) is TransientError and error.status_code is None
    assert str(error).startswith("vendor: connection failed to *** x")
    assert len(str(error)) <= 360 and (error.request_id, error.headers) == ("r", {"a": "b"})


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "This model's maximum context length is 2048 tokens. However, you requested", True),
        (400, "This model's maximum model length is 2048", True),  # older vLLM
        (400, "prompt is too long: 210000 tokens > 200000 maximum", True),  # Anthropic
        (400, "Invalid request.", False),
        (500, "maximum context length exceeded", False),  # only a 400 is that refusal
    ],
)
def test_context_length_errors(status: int, message: str, expected: bool) -> None:
    assert is_context_length_error(error_for_status(status, body=openai_body(message))) is expected


def test_the_context_length_code_alone_is_recognised() -> None:
    error = error_for_status(400, body=openai_body("too many tokens", "context_length_exceeded"))
    assert is_context_length_error(error) and type(error) is PermanentError
