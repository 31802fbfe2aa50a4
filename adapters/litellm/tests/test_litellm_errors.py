"""Every fault class mapped onto chatsim's taxonomy, streamed and not, through litellm; the
core retries (litellm never does) and no key reaches an error or a record."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litellm_helpers import KEY, REPLY, answering, anthropic_adapter, openai_adapter, request

from chatsim import (
    AuthenticationError,
    PermanentError,
    QuotaExceededError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.targets import CallPolicy, TargetAdapter, TargetCaller, TargetSettings
from chatsim.targets.kit import is_context_length_error
from chatsim.testing import Fault, FaultKind, LoopbackServer
from chatsim_anthropic.testing import AnthropicLoopbackServer
from chatsim_litellm import litellm_adapter

pytestmark = pytest.mark.anyio

FAST = CallPolicy(max_attempts=3, backoff_initial=0.0, backoff_max=0.0, attempt_timeout=5.0)
STREAMS = pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])


async def _error(adapter: TargetAdapter, *, stream: bool) -> TargetError:
    with pytest.raises(TargetError) as caught:
        await adapter.complete(request(stream=stream), now=time.perf_counter)
    error = caught.value
    assert KEY not in f"{error} {error!r} {error.headers}"
    assert error.__cause__ is not None  # chained to litellm's exception
    return error


@STREAMS
@pytest.mark.parametrize(
    ("fault", "expected", "status"),
    [
        (Fault(FaultKind.RATE_LIMIT, retry_after=2.0), RateLimitError, 429),
        (Fault(FaultKind.SERVER_ERROR), TransientError, 500),
        (Fault(FaultKind.SERVICE_UNAVAILABLE), TransientError, 503),
        (Fault(FaultKind.UNAUTHORIZED), AuthenticationError, 401),
        (Fault(FaultKind.HTTP_ERROR, status=403), AuthenticationError, 403),
        (Fault(FaultKind.CONTEXT_LENGTH), PermanentError, 400),
        (Fault(FaultKind.HTTP_ERROR, status=404), PermanentError, 404),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
async def test_status_faults(
    fault: Fault, expected: type[TargetError], status: int, stream: bool
) -> None:
    async with LoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(fault)
        error = await _error(openai_adapter(server.base_url), stream=stream)
        (record,) = server.requests
    assert type(error) is expected and error.status_code == status
    assert error.request_id == record.request_id
    if expected is RateLimitError:
        assert isinstance(error, RateLimitError) and error.retry_after == 2.0
    assert is_context_length_error(error) is (fault.kind is FaultKind.CONTEXT_LENGTH)


@STREAMS
@pytest.mark.parametrize(
    "kind", [FaultKind.RESET, FaultKind.RESET_MID_STREAM, FaultKind.MALFORMED_JSON,
             FaultKind.MALFORMED_SSE, FaultKind.EMPTY_CHOICES],
)  # fmt: skip
async def test_cut_and_malformed_replies_are_transient(kind: FaultKind, stream: bool) -> None:
    async with LoopbackServer(REPLY, api_key=KEY) as server:
        adapter = openai_adapter(server.base_url)
        server.inject(kind)
        error = await _error(adapter, stream=stream)
        reply = await adapter.complete(request(stream=stream), now=time.perf_counter)
    assert type(error) is TransientError and error.status_code is None
    if stream and kind is not FaultKind.RESET:  # the stream had begun: its request id is kept
        assert error.request_id == server.requests[0].request_id
    assert reply.text == REPLY


@STREAMS
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"error": {"message": "You exceeded your current quota.",
                         "type": "insufficient_quota", "code": "insufficient_quota"}}),
        (402, {"error": {"message": "Insufficient credits.", "code": 402}}),
    ],
    ids=["insufficient_quota", "payment_required"],
)  # fmt: skip
async def test_a_spent_quota_stops_the_run(status: int, body: dict[str, Any], stream: bool) -> None:
    async with answering(status, body, {"x-request-id": "req_quota"}) as url:
        error = await _error(openai_adapter(url), stream=stream)
    assert type(error) is QuotaExceededError and error.status_code == status
    assert error.request_id == "req_quota"


async def test_a_client_side_timeout_is_transient() -> None:
    async with LoopbackServer(REPLY, api_key=KEY) as server:
        settings = TargetSettings(base_url=server.base_url, api_key=KEY, options={"timeout": 0.2})
        server.inject(Fault(FaultKind.STALL, stall=5.0))
        error = await _error(litellm_adapter("openai/gpt-4o", settings), stream=False)
    assert type(error) is TransientError and error.status_code is None


async def test_a_refused_connection_is_transient() -> None:
    error = await _error(openai_adapter("http://127.0.0.1:9/v1"), stream=True)
    assert type(error) is TransientError


@STREAMS
async def test_anthropic_overloaded_keeps_its_status_and_retry_after(stream: bool) -> None:
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=529, retry_after=3.0))
        error = await _error(anthropic_adapter(server.base_url), stream=stream)
    assert type(error) is TransientError
    assert (error.status_code, error.retry_after) == (529, 3.0)


async def test_an_anthropic_error_event_mid_stream_is_transient() -> None:
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=529, after_chunks=1))
        error = await _error(anthropic_adapter(server.base_url), stream=True)
        (record,) = server.requests
    assert type(error) is TransientError and error.request_id == record.request_id


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.RATE_LIMIT, retry_after=0.05),
        Fault(FaultKind.SERVER_ERROR),
        Fault(FaultKind.RESET_MID_STREAM),
        Fault(FaultKind.MALFORMED_SSE),
    ],
    ids=lambda f: str(f.kind),
)
async def test_the_core_retries_and_litellm_does_not(fault: Fault) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with LoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(fault, times=2)
        caller = TargetCaller(openai_adapter(server.base_url), FAST, sleep=sleep, rand=lambda: 0.0)
        reply = await caller.call(request())
        sent = len(server.requests)
    assert reply.text == REPLY and [a.outcome for a in reply.attempts][-1] == "ok"
    assert len(reply.attempts) == sent == 3  # one request per attempt: no litellm retries
    if fault.kind is FaultKind.RATE_LIMIT:
        assert [a.wait_before_next for a in reply.attempts[:2]] == [0.05, 0.05]
    for attempt in reply.attempts:
        assert KEY not in attempt.model_dump_json()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [(Fault(FaultKind.UNAUTHORIZED), AuthenticationError),
     (Fault(FaultKind.CONTEXT_LENGTH), PermanentError)],
)  # fmt: skip
async def test_the_core_does_not_retry_auth_or_permanent_faults(
    fault: Fault, expected: type[TargetError]
) -> None:
    async def sleep(seconds: float) -> None:
        pass

    async with LoopbackServer(REPLY, api_key=KEY) as server:
        server.inject(fault, times=3)
        caller = TargetCaller(openai_adapter(server.base_url), FAST, sleep=sleep)
        with pytest.raises(expected) as caught:
            await caller.call(request())
        assert len(server.requests) == 1
    assert len(caught.value.attempts) == 1
    assert KEY not in caught.value.attempts[0].model_dump_json()
