"""Every fault class mapped, directly and through the core's TargetCaller."""

from __future__ import annotations

import time

import pytest
from anthropic_helpers import KEY, REPLY, adapter_for, request

from chatsim import (
    AuthenticationError,
    PermanentError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.targets import CallPolicy, TargetCaller, TargetSettings
from chatsim.targets.kit import is_context_length_error
from chatsim.testing import Fault, FaultKind
from chatsim_anthropic import anthropic_adapter, error_from_status
from chatsim_anthropic.testing import AnthropicLoopbackServer

pytestmark = pytest.mark.anyio

FAST = CallPolicy(max_attempts=3, backoff_initial=0.0, backoff_max=0.0, attempt_timeout=5.0)


async def _error(server: AnthropicLoopbackServer, *, stream: bool = True) -> TargetError:
    adapter = adapter_for(server)
    try:
        with pytest.raises(TargetError) as caught:
            await adapter.complete(request(stream=stream), now=time.perf_counter)
    finally:
        await adapter.aclose()
    error = caught.value
    assert KEY not in f"{error} {error!r} {error.headers}"
    return error


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("fault", "expected", "status"),
    [
        (Fault(FaultKind.RATE_LIMIT, retry_after=2.0), RateLimitError, 429),
        (Fault(FaultKind.HTTP_ERROR, status=529, retry_after=3.0), TransientError, 529),
        (Fault(FaultKind.SERVER_ERROR), TransientError, 500),
        (Fault(FaultKind.SERVICE_UNAVAILABLE), TransientError, 503),
        (Fault(FaultKind.UNAUTHORIZED), AuthenticationError, 401),
        (Fault(FaultKind.HTTP_ERROR, status=403), AuthenticationError, 403),
        (Fault(FaultKind.CONTEXT_LENGTH), PermanentError, 400),
        (Fault(FaultKind.HTTP_ERROR, status=404), PermanentError, 404),
        (Fault(FaultKind.HTTP_ERROR, status=413), PermanentError, 413),
    ],
    ids=lambda v: getattr(v, "__name__", None) or str(getattr(v, "kind", v)),
)
async def test_status_faults(
    fault: Fault, expected: type[TargetError], status: int, stream: bool
) -> None:
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(fault)
        error = await _error(server, stream=stream)
        assert type(error) is expected and error.status_code == status
        assert error.request_id == server.requests[-1].request_id
    if status in (429, 529):
        assert isinstance(error, RateLimitError | TransientError)
        assert error.retry_after == fault.retry_after
    if fault.kind is FaultKind.CONTEXT_LENGTH:
        assert is_context_length_error(error) and "prompt is too long" in str(error)
    if status == 529:
        assert "overloaded_error" in str(error)


@pytest.mark.parametrize("kind", [FaultKind.RATE_LIMIT_MS, FaultKind.RATE_LIMIT_DATE])
async def test_retry_after_in_each_form(kind: FaultKind) -> None:
    async with AnthropicLoopbackServer(REPLY) as server:
        server.inject(Fault(kind, retry_after=2.0))
        error = await _error(server)
    assert isinstance(error, RateLimitError) and error.retry_after is not None
    assert 1.0 <= error.retry_after <= 3.5


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        (FaultKind.RESET, True),
        (FaultKind.RESET, False),
        (FaultKind.RESET_MID_STREAM, True),
        (FaultKind.MALFORMED_JSON, True),
        (FaultKind.MALFORMED_JSON, False),
        (FaultKind.MALFORMED_SSE, True),
        (FaultKind.MALFORMED_SSE, False),
        (FaultKind.EMPTY_CHOICES, True),  # a stream cut cleanly before message_stop
        (FaultKind.EMPTY_CHOICES, False),
    ],
)
async def test_broken_replies_are_transient_and_the_next_call_works(
    kind: FaultKind, stream: bool
) -> None:
    async with AnthropicLoopbackServer(REPLY) as server:
        server.inject(kind)
        adapter = adapter_for(server)
        try:
            with pytest.raises(TransientError):
                await adapter.complete(request(stream=stream), now=time.perf_counter)
            reply = await adapter.complete(request(stream=stream), now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert reply.text == REPLY


@pytest.mark.parametrize(("status", "expected"), [(529, TransientError), (429, RateLimitError)])
async def test_an_error_event_mid_stream(status: int, expected: type[TargetError]) -> None:
    async with AnthropicLoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=status, after_chunks=2))
        error = await _error(server)
        (record,) = server.requests
    assert type(error) is expected and error.status_code == status
    assert error.request_id == record.request_id and record.status == 200


async def test_a_refused_connection_is_transient() -> None:
    settings = TargetSettings(base_url="http://127.0.0.1:9", api_key=KEY)
    adapter = anthropic_adapter("m", settings)
    try:
        with pytest.raises(TransientError, match="connection"):
            await adapter.complete(request(), now=time.perf_counter)
    finally:
        await adapter.aclose()


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.HTTP_ERROR, status=529, retry_after=0.05),
        Fault(FaultKind.RATE_LIMIT, retry_after=0.05),
        Fault(FaultKind.SERVER_ERROR),
        Fault(FaultKind.RESET_MID_STREAM),
        Fault(FaultKind.MALFORMED_JSON),
        Fault(FaultKind.HTTP_ERROR, status=529, after_chunks=1),
    ],
    ids=lambda f: f"{f.kind}-{f.status}",
)
async def test_the_core_retries_transient_faults(fault: Fault) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(fault, times=2)
        caller = TargetCaller(adapter_for(server), FAST, sleep=sleep, rand=lambda: 0.0)
        try:
            reply = await caller.call(request())
        finally:
            await caller.adapter.aclose()
    assert reply.text == REPLY and [a.outcome for a in reply.attempts][-1] == "ok"
    assert len(reply.attempts) == 3
    if fault.http_status in (429, 529) and not fault.after_chunks:
        assert [a.wait_before_next for a in reply.attempts[:2]] == [0.05, 0.05]
        assert sum(waits) >= 0.1  # the server's retry-after honoured
    for attempt in reply.attempts:
        assert KEY not in attempt.model_dump_json()
    assert KEY not in repr(reply)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(FaultKind.UNAUTHORIZED), AuthenticationError),
        (Fault(FaultKind.CONTEXT_LENGTH), PermanentError),
    ],
)
async def test_the_core_does_not_retry_auth_or_permanent_faults(
    fault: Fault, expected: type[TargetError]
) -> None:
    async def sleep(seconds: float) -> None:
        pass

    async with AnthropicLoopbackServer(REPLY) as server:
        server.inject(fault, times=3)
        caller = TargetCaller(adapter_for(server), FAST, sleep=sleep)
        try:
            with pytest.raises(expected) as caught:
                await caller.call(request())
        finally:
            await caller.adapter.aclose()
        assert len(server.requests) == 1
    assert len(caught.value.attempts) == 1


def test_error_bodies_and_secrets() -> None:
    from chatsim.targets.kit import register_secret

    secret = "sk-ant-planted-secret-000111222"
    register_secret(secret)
    body = {"type": "error", "error": {"type": "overloaded_error", "message": f"no {secret}"}}
    error = error_from_status(529, {"request-id": "req_1", "retry-after": "7"}, body)
    assert isinstance(error, TransientError) and error.retry_after == 7.0
    assert error.request_id == "req_1" and secret not in str(error)
    assert str(error).startswith("anthropic answered HTTP 529 (overloaded_error)")
    too_long = b'{"type":"error","error":{"type":"invalid_request_error",' + (
        b'"message":"prompt is too long: 5 tokens > 4 maximum"}}'
    )
    raw = error_from_status(400, {}, too_long)
    assert type(raw) is PermanentError and is_context_length_error(raw)
    html = error_from_status(502, {}, b"<html>bad gateway</html>")
    assert type(html) is TransientError and "bad gateway" in str(html)
