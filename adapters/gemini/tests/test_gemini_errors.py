"""Each fault class, through the core's TargetCaller, mapped at the adapter's one boundary;
and the key never reaching an error, a record or a repr."""

from __future__ import annotations

import time
from typing import Any

import pytest
from google.genai import errors as genai_errors

from chatsim import (
    AuthenticationError,
    PermanentError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.protocol import Message, Role
from chatsim.targets import CallPolicy, TargetCaller, TargetRequest, TargetSettings
from chatsim.testing import Fault, FaultKind
from chatsim_gemini import GeminiAdapter, create_gemini_adapter, error_from_api_error
from chatsim_gemini.testing import GeminiLoopbackServer

KEY = "AIzaSy-test-planted-secret-0123456789"  # the key conftest serves with

pytestmark = pytest.mark.anyio

REQUEST = TargetRequest(messages=(Message(Role.USER, "What is 2 + 2?"),))
FAST = CallPolicy(max_attempts=3, backoff_initial=0, backoff_max=0, max_retry_after=0.05)


def _caller(adapter: GeminiAdapter) -> TargetCaller:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return TargetCaller(adapter, FAST, sleep=sleep)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault(FaultKind.RATE_LIMIT, retry_after=0.01), 429),
        (Fault(FaultKind.SERVER_ERROR), 500),
        (Fault(FaultKind.SERVICE_UNAVAILABLE), 503),
        (Fault(FaultKind.RESET_MID_STREAM), None),
        (Fault(FaultKind.MALFORMED_SSE), None),
        (Fault(FaultKind.MALFORMED_JSON), None),
        (Fault(FaultKind.EMPTY_CHOICES), None),
        (Fault(FaultKind.RESET), None),
    ],
    ids=lambda v: getattr(getattr(v, "kind", None), "value", str(v)),
)
async def test_retryable_faults_are_retried(
    adapter: GeminiAdapter,
    server: GeminiLoopbackServer,
    fault: Fault,
    status: int | None,
    stream: bool,
) -> None:
    server.inject(fault)
    request = TargetRequest(messages=REQUEST.messages, stream=stream)
    reply = await _caller(adapter).call(request)
    assert reply.text == "The answer is (B)."
    failed, ok = reply.attempts
    assert failed.status_code == status and ok.outcome == "ok"
    assert failed.outcome in ("rate_limit", "transient")
    assert KEY not in repr(reply) and KEY not in failed.model_dump_json()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(FaultKind.UNAUTHORIZED), AuthenticationError),
        (Fault(FaultKind.HTTP_ERROR, status=403), AuthenticationError),
        (Fault(FaultKind.CONTEXT_LENGTH), PermanentError),
        (Fault(FaultKind.HTTP_ERROR, status=404), PermanentError),
    ],
    ids=lambda v: getattr(getattr(v, "kind", None), "value", str(v)),
)
async def test_final_faults_are_not_retried(
    adapter: GeminiAdapter,
    server: GeminiLoopbackServer,
    fault: Fault,
    expected: type[TargetError],
) -> None:
    server.inject(fault)
    with pytest.raises(expected) as info:
        await _caller(adapter).call(REQUEST)
    assert len(info.value.attempts) == 1
    assert KEY not in f"{info.value} {info.value!r} {info.value.headers}"


async def test_rate_limit_keeps_retry_after_status_and_request_id(
    adapter: GeminiAdapter, server: GeminiLoopbackServer
) -> None:
    server.inject(Fault(FaultKind.RATE_LIMIT, retry_after=3))
    with pytest.raises(RateLimitError) as info:
        await adapter.complete(REQUEST, now=time.perf_counter)
    error = info.value
    assert error.retry_after == 3.0 and error.status_code == 429
    assert "RESOURCE_EXHAUSTED" in str(error)
    assert error.request_id == server.upstream.requests[-1].request_id


async def test_a_wrong_key_is_an_auth_error_without_the_key(server: GeminiLoopbackServer) -> None:
    wrong = "AIza-wrong-but-secret-key-987654321"
    settings = TargetSettings(base_url=server.base_url, api_key=wrong)
    adapter = create_gemini_adapter("gemini-2.5-flash", settings)
    try:
        with pytest.raises(AuthenticationError) as info:
            await adapter.complete(REQUEST, now=time.perf_counter)
    finally:
        await adapter.aclose()
    assert wrong not in f"{info.value} {info.value!r} {info.value.headers}"
    assert wrong not in repr(settings) and KEY not in repr(adapter.__dict__)


def _api_error(code: int, body: dict[str, Any]) -> genai_errors.APIError:
    cls = genai_errors.ClientError if code < 500 else genai_errors.ServerError
    return cls(code, body)


def test_retry_info_stands_in_for_retry_after() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34s"}],
        }
    }
    error = error_from_api_error(_api_error(429, body))
    assert isinstance(error, RateLimitError) and error.retry_after == 34.0


def test_gemini_answers_a_bad_key_with_400_which_is_still_auth() -> None:
    body = {
        "error": {
            "code": 400,
            "message": f"API key not valid. Please pass a valid API key. {KEY}",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }
    error = error_from_api_error(_api_error(400, body))
    assert type(error) is AuthenticationError and error.status_code == 400
    assert KEY not in str(error)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (400, "INVALID_ARGUMENT", PermanentError),
        (401, "UNAUTHENTICATED", AuthenticationError),
        (403, "PERMISSION_DENIED", AuthenticationError),
        (404, "NOT_FOUND", PermanentError),
        (429, "RESOURCE_EXHAUSTED", RateLimitError),
        (500, "INTERNAL", TransientError),
        (503, "UNAVAILABLE", TransientError),
        (504, "DEADLINE_EXCEEDED", TransientError),
    ],
)
def test_status_classes(code: int, status: str, expected: type[TargetError]) -> None:
    body = {"error": {"code": code, "message": "boom", "status": status}}
    error = error_from_api_error(_api_error(code, body))
    assert type(error) is expected and error.status_code == code
    assert f"HTTP {code} ({status}): boom" in str(error)
