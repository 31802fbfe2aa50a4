"""Every loopback fault through the real adapter and the real openai SDK, with our caller.

Asserts, per fault: how the failure is classified, how many attempts were made (the server
saw exactly that many requests: the SDK's own retries are off), the waits taken (an injected
sleep, so nothing waits for real except the stall test's 0.3 s attempt timeout), and the
call's outcome. Runs for both transports of the openai adapter (``sdk``: the official SDK
end to end; ``fast``: aiohttp with the SDK for configuration).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from chatsim import AuthenticationError, PermanentError, TargetError, TransientError
from chatsim.targets._caller import CallPolicy, TargetCaller
from chatsim.targets._registry import ModelSpec, TargetSettings, available_adapters, create_adapter
from chatsim.testing import FakeClock
from chatsim.testing._faults import Fault, FaultKind
from chatsim.testing._server import LoopbackServer

from .fakes import request

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        "openai" not in available_adapters(), reason="chatsim-openai is not installed"
    ),
]

REPLY = "The answer is B because four is an even number."
KEY = "sk-loopback-PLANTED-key-0123456789abcdef"
POLICY = CallPolicy(
    max_attempts=4, backoff_initial=1.0, backoff_max=8.0, jitter=0.0, attempt_timeout=5.0
)


@dataclass(frozen=True)
class Case:
    fault: Fault
    outcomes: list[str]
    waits: list[float] = field(default_factory=list)
    status: int | None = None
    raises: type[TargetError] | None = None
    stream: bool = True

    @property
    def id(self) -> str:
        extra = f"-{self.fault.status}" if self.fault.kind is FaultKind.HTTP_ERROR else ""
        return f"{self.fault.kind.value}{extra}{'' if self.stream else '-nostream'}"


def _http(status: int) -> Fault:
    return Fault(FaultKind.HTTP_ERROR, status=status)


RETRIED = ["transient", "ok"]
CASES = [
    Case(Fault(FaultKind.RATE_LIMIT, retry_after=3), ["rate_limit", "ok"], [3.0], 429),
    Case(Fault(FaultKind.RATE_LIMIT_MS, retry_after=1.5), ["rate_limit", "ok"], [1.5], 429),
    Case(Fault(FaultKind.SERVER_ERROR), RETRIED, [1.0], 500),
    Case(Fault(FaultKind.BAD_GATEWAY), RETRIED, [1.0], 502),
    Case(Fault(FaultKind.SERVICE_UNAVAILABLE), RETRIED, [1.0], 503),
    Case(Fault(FaultKind.GATEWAY_TIMEOUT), RETRIED, [1.0], 504),
    Case(_http(408), RETRIED, [1.0], 408),
    Case(_http(409), RETRIED, [1.0], 409),
    Case(_http(404), ["permanent"], [], 404, PermanentError),
    Case(_http(422), ["permanent"], [], 422, PermanentError),
    Case(_http(403), ["auth"], [], 403, AuthenticationError),
    Case(Fault(FaultKind.CONTEXT_LENGTH), ["permanent"], [], 400, PermanentError),
    Case(Fault(FaultKind.UNAUTHORIZED), ["auth"], [], 401, AuthenticationError),
    Case(Fault(FaultKind.RESET), RETRIED, [1.0]),
    Case(Fault(FaultKind.RESET), RETRIED, [1.0], stream=False),
    Case(Fault(FaultKind.RESET_MID_STREAM), RETRIED, [1.0]),
    Case(Fault(FaultKind.RESET_MID_STREAM, after_chunks=3), RETRIED, [1.0]),
    Case(Fault(FaultKind.MALFORMED_JSON), RETRIED, [1.0]),
    Case(Fault(FaultKind.MALFORMED_JSON), RETRIED, [1.0], stream=False),
    Case(Fault(FaultKind.MALFORMED_SSE), RETRIED, [1.0]),
    Case(Fault(FaultKind.EMPTY_CHOICES), RETRIED, [1.0]),
    Case(Fault(FaultKind.EMPTY_CHOICES), RETRIED, [1.0], stream=False),
]


@pytest.fixture(params=["sdk", "fast"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(REPLY, api_key=KEY) as running:
        yield running


def _caller(
    server: LoopbackServer, transport: str, policy: CallPolicy = POLICY
) -> tuple[TargetCaller, FakeClock]:
    settings = TargetSettings(
        base_url=server.base_url, api_key=KEY, options={"transport": transport}
    )
    adapter = create_adapter(ModelSpec("openai", "loopback-model", "loopback"), settings)
    clock = FakeClock(start=time.time())  # wall-anchored, so HTTP-date hints read right
    return TargetCaller(adapter, policy, clock=clock, sleep=clock.sleep), clock


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_fault(server: LoopbackServer, transport: str, case: Case) -> None:
    caller, clock = _caller(server, transport)
    server.inject(case.fault)
    try:
        if case.raises is None:
            reply = await caller.call(request(stream=case.stream))
            attempts = reply.attempts
            assert reply.text == REPLY  # the whole reply; nothing left of a cut stream
        else:
            with pytest.raises(case.raises) as info:
                await caller.call(request(stream=case.stream))
            attempts = info.value.attempts
            assert info.value.status_code == case.status
    finally:
        await caller.aclose()
    assert [a.outcome for a in attempts] == case.outcomes
    assert len(server.completion_requests) == len(case.outcomes)
    assert clock.sleeps == case.waits
    assert [a.wait_before_next for a in attempts] == [*case.waits, None]
    failed = attempts[0]
    assert failed.status_code == case.status
    assert failed.error_class is not None and failed.error_message is not None
    assert KEY not in failed.error_message


async def test_retry_after_http_date(server: LoopbackServer, transport: str) -> None:
    caller, clock = _caller(server, transport)
    server.inject(Fault(FaultKind.RATE_LIMIT_DATE, retry_after=2))
    reply = await caller.call(request())
    await caller.aclose()
    assert [a.outcome for a in reply.attempts] == ["rate_limit", "ok"]
    (wait,) = clock.sleeps
    assert 0.0 < wait <= 3.5  # whole seconds, rounded up, relative to the server's clock
    assert "retry-after" in reply.attempts[0].rate_limit_headers


async def test_stall_hits_the_attempt_timeout(server: LoopbackServer, transport: str) -> None:
    policy = POLICY.with_overrides({"attempt_timeout": 0.3})
    caller, clock = _caller(server, transport, policy)
    server.inject(Fault(FaultKind.STALL, stall=5.0))
    reply = await caller.call(request())
    await caller.aclose()
    assert [a.outcome for a in reply.attempts] == ["timeout", "ok"]
    assert reply.attempts[0].error_class == "AttemptTimeoutError"
    assert clock.sleeps == [1.0]
    assert reply.text == REPLY


async def test_persistent_503_exhausts_the_attempts(server: LoopbackServer, transport: str) -> None:
    caller, clock = _caller(server, transport)
    server.inject(Fault(FaultKind.SERVICE_UNAVAILABLE), times=10)
    with pytest.raises(TransientError) as info:
        await caller.call(request())
    await caller.aclose()
    assert [a.outcome for a in info.value.attempts] == ["transient"] * 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(server.completion_requests) == 4


async def test_auth_failure_stops_further_requests(server: LoopbackServer, transport: str) -> None:
    caller, _ = _caller(server, transport)
    server.inject(Fault(FaultKind.UNAUTHORIZED))
    with pytest.raises(AuthenticationError):
        await caller.call(request())
    for _ in range(3):
        with pytest.raises(AuthenticationError, match="not sent"):
            await caller.call(request())
    await caller.aclose()
    assert len(server.completion_requests) == 1
    assert caller.auth_failed is not None
