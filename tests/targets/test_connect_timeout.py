"""Connect timeouts: their own recorded kind, retried as transient, whatever the adapter said."""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from chatsim import TransientError
from chatsim.targets._retry import ConnectTimeoutError, classify
from chatsim.targets.kit import connect_timeout_error, is_connect_timeout, transient_error

from .fakes import ScriptedAdapter, request


def _chained(cause: BaseException, what: str = "read timed out") -> TransientError:
    try:
        raise cause
    except BaseException as exc:
        error = transient_error("vendor", what)
        error.__cause__ = exc
        return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("connect"), True),
        (httpx.ConnectTimeout("connect"), True),
        (_chained(httpx.ConnectTimeout("connect")), True),
        (aiohttp.SocketTimeoutError("read"), False),
        (httpx.ReadTimeout("read"), False),
        (TimeoutError(), False),
        (None, False),
    ],
)
def test_connect_timeouts_are_recognised_by_class_through_the_chain(
    error: BaseException | None, expected: bool
) -> None:
    assert is_connect_timeout(error) is expected


def test_a_connect_timeout_is_transient_but_its_own_outcome() -> None:
    error = connect_timeout_error("openai")
    assert error.category == "transient"
    assert classify(error) == "connect_timeout"
    assert classify(transient_error("openai", "read timed out")) == "transient"


@pytest.mark.anyio
async def test_the_caller_retries_it_and_records_it_apart_whatever_the_adapter_said() -> None:
    from chatsim.targets._caller import CallPolicy, TargetCaller
    from chatsim.testing import FakeClock

    clock = FakeClock()
    adapter = ScriptedAdapter([_chained(aiohttp.ConnectionTimeoutError("connect"))], time=clock)
    caller = TargetCaller(
        adapter, CallPolicy(backoff_initial=0.0), clock=clock, sleep=clock.sleep, name="vendor:m"
    )
    result = await caller.call(request())
    first, second = result.attempts
    assert (first.outcome, first.error_class) == ("connect_timeout", "ConnectTimeoutError")
    assert first.error_message is not None and "never sent" in first.error_message
    assert "read timed out" not in first.error_message
    assert second.outcome == "ok"


@pytest.mark.anyio
async def test_an_untranslated_aiohttp_connect_timeout_is_not_an_attempt_timeout() -> None:
    from chatsim.targets._caller import CallPolicy, TargetCaller
    from chatsim.testing import FakeClock

    clock = FakeClock()
    adapter = ScriptedAdapter([aiohttp.ConnectionTimeoutError("connect")], time=clock)
    caller = TargetCaller(adapter, CallPolicy(backoff_initial=0.0), clock=clock, sleep=clock.sleep)
    result = await caller.call(request())
    assert [a.outcome for a in result.attempts] == ["connect_timeout", "ok"]
    assert isinstance(ConnectTimeoutError("x"), TransientError)
