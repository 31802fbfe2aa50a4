"""Status classification, Retry-After parsing and secret scrubbing."""

from __future__ import annotations

import json

import pytest

from chatsim import (
    AuthenticationError,
    PermanentError,
    QuotaExceededError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.targets.kit import error_for_status, register_secret
from chatsim_openai import error_from_status


def body(message: str = "boom", code: str | None = None) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": "x", "param": None, "code": code}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, RateLimitError),
        (408, TransientError),
        (409, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (529, TransientError),
        (400, PermanentError),
        (404, PermanentError),
        (413, PermanentError),
        (422, PermanentError),
        (401, AuthenticationError),
        (403, AuthenticationError),
    ],
)
def test_status_classes(status: int, expected: type[TargetError]) -> None:
    error = error_from_status(status, {"X-Request-Id": "req_1"}, body(), provider="openai")
    assert type(error) is expected
    assert error.status_code == status and error.request_id == "req_1"
    assert error.headers == {"x-request-id": "req_1"}
    assert f"HTTP {status}" in str(error) and "boom" in str(error)


def test_insufficient_quota_stops_the_run_instead_of_retrying() -> None:
    quota = body("You exceeded your current quota", "insufficient_quota")
    error = error_from_status(429, {}, quota, provider="openai")
    assert type(error) is QuotaExceededError and "insufficient_quota" in str(error)
    assert error.category == "auth"  # the core stops instead of retrying


def test_retry_after_reaches_the_error() -> None:
    limited = error_from_status(429, {"Retry-After-Ms": "200"}, body(), provider="azure")
    assert isinstance(limited, RateLimitError) and limited.retry_after == 0.2
    busy = error_from_status(503, {"retry-after": "4"}, b"<html>busy</html>", provider="vllm")
    assert isinstance(busy, TransientError) and busy.retry_after == 4.0
    assert "<html>busy</html>" in str(busy)


def test_request_id_from_azure_headers() -> None:
    error = error_from_status(500, {"apim-request-id": "apim-1"}, b"", provider="azure")
    assert error.request_id == "apim-1"


def test_secrets_are_scrubbed_from_messages_and_headers() -> None:
    secret = "sk-planted-secret-0123456789"
    register_secret(secret)
    error = error_from_status(
        401,
        {"x-request-id": f"id-{secret}", "authorization": f"Bearer {secret}"},
        body(f"Incorrect API key provided: {secret}."),
        provider="openai",
    )
    assert secret not in str(error) and secret not in repr(error.headers)
    assert "authorization" not in error.headers


def test_it_is_the_cores_one_mapping() -> None:
    quota = body("spent", "insufficient_quota")
    ours = error_from_status(429, {"x-request-id": "r"}, quota, provider="openai")
    core = error_for_status(429, headers={"x-request-id": "r"}, body=quota, provider="openai")
    assert (type(ours), str(ours), ours.request_id) == (type(core), str(core), core.request_id)
