"""TargetCaller: the retry matrix, timeouts, deadlines, records, limits, auth stop."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import anyio
import pytest
from structlog.testing import capture_logs

from chatsim import (
    AttemptTimeoutError,
    AuthenticationError,
    PermanentError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim._util._redact import register_secret
from chatsim.recording import ReplyTiming
from chatsim.targets._caller import CallPolicy, TargetCaller
from chatsim.targets._contract import AdapterReply, TargetRequest
from chatsim.targets._retry import DeadlineExceededError
from chatsim.testing import FakeClock

from .fakes import START, ScriptedAdapter, Step, reply, request, usage

pytestmark = pytest.mark.anyio

FAST = CallPolicy(max_attempts=4, backoff_initial=1.0, backoff_max=8.0, jitter=0.0)


def _caller(
    script: list[Step], policy: CallPolicy = FAST, *, rand: Callable[[], float] = lambda: 0.0
) -> tuple[TargetCaller, ScriptedAdapter, FakeClock]:
    time = FakeClock()
    adapter = ScriptedAdapter(script, time=time)
    return TargetCaller(adapter, policy, clock=time, sleep=time.sleep, rand=rand), adapter, time


def _errors() -> dict[str, Callable[[], TargetError]]:
    return {
        "rate_limit": lambda: RateLimitError("slow down", status_code=429),
        "transient": lambda: TransientError("bad gateway", status_code=502),
        "timeout": lambda: AttemptTimeoutError("read timeout"),
        "permanent": lambda: PermanentError("context length exceeded", status_code=400),
        "auth": lambda: AuthenticationError("bad key", status_code=401),
    }


# --- the matrix: each category, how many attempts, which waits


@pytest.mark.parametrize(
    ("category", "attempts", "waits"),
    [
        ("rate_limit", 4, [1.0, 2.0, 4.0]),
        ("transient", 4, [1.0, 2.0, 4.0]),
        ("timeout", 4, [1.0, 2.0, 4.0]),
        ("permanent", 1, []),
        ("auth", 1, []),
    ],
)
async def test_persistent_failure(category: str, attempts: int, waits: list[float]) -> None:
    make = _errors()[category]
    caller, adapter, time = _caller([make() for _ in range(10)])
    with pytest.raises(TargetError) as info:
        await caller.call(request())
    assert adapter.calls == attempts
    assert time.sleeps == waits
    assert [a.outcome for a in info.value.attempts] == [category] * attempts
    assert [a.wait_before_next for a in info.value.attempts] == [*waits, None]
    assert type(info.value) is type(make())


@pytest.mark.parametrize("category", ["rate_limit", "transient", "timeout"])
async def test_recovers_after_retryable_failures(category: str) -> None:
    make = _errors()[category]
    caller, adapter, time = _caller([make(), make(), reply("done")])
    result = await caller.call(request())
    assert result.text == "done"
    assert adapter.calls == 3
    assert [a.outcome for a in result.attempts] == [category, category, "ok"]
    assert time.sleeps == [1.0, 2.0]


async def test_permanent_after_transient_stops_at_once() -> None:
    caller, adapter, _ = _caller([TransientError("x"), PermanentError("nope"), reply()])
    with pytest.raises(PermanentError) as info:
        await caller.call(request())
    assert adapter.calls == 2
    assert [a.outcome for a in info.value.attempts] == ["transient", "permanent"]


async def test_max_attempts_one_disables_retries() -> None:
    caller, adapter, time = _caller([TransientError("x")], FAST.with_overrides({"max_attempts": 1}))
    with pytest.raises(TransientError):
        await caller.call(request())
    assert adapter.calls == 1 and time.sleeps == []


async def test_full_jitter_draws_within_the_ceiling() -> None:
    policy = CallPolicy(max_attempts=5, backoff_initial=1.0, backoff_max=3.0, jitter=1.0)
    draws = iter([0.25, 0.5, 0.75, 0.0])
    caller, _, time = _caller([TransientError("x")] * 4, policy, rand=lambda: next(draws))
    await caller.call(request())
    # ceilings 1, 2, 3 (capped), 3; delay = ceiling * (1 - u)
    assert time.sleeps == [0.75, 1.0, 0.75, 3.0]


# --- Retry-After in each form, and its cap


@pytest.mark.parametrize(
    ("headers", "retry_after", "wait"),
    [
        ({"retry-after": "7"}, None, 7.0),
        ({"retry-after-ms": "1500"}, None, 1.5),
        ({"retry-after": email.utils.formatdate(START + 20, usegmt=True)}, None, 20.0),
        ({}, 3.0, 3.0),  # the adapter's parsed attribute
        ({"retry-after": "600"}, None, 30.0),  # capped by max_retry_after
        ({"retry-after": "garbage"}, None, 1.0),  # falls back to backoff
    ],
)
async def test_retry_after_is_honoured(
    headers: dict[str, str], retry_after: float | None, wait: float
) -> None:
    error = RateLimitError("429", status_code=429, retry_after=retry_after, headers=headers)
    policy = FAST.with_overrides({"max_retry_after": 30.0})
    caller, _, time = _caller([error, reply()], policy)
    result = await caller.call(request())
    assert time.sleeps == [pytest.approx(wait)]
    assert result.attempts[0].wait_before_next == pytest.approx(wait)
    assert result.attempts[0].rate_limit_headers == headers


async def test_transient_503_with_retry_after_uses_it() -> None:
    error = TransientError("busy", status_code=503, headers={"retry-after": "4"})
    caller, _, time = _caller([error, reply()])
    await caller.call(request())
    assert time.sleeps == [4.0]


async def test_max_total_wait_stops_before_a_wait_that_would_exceed_it() -> None:
    policy = FAST.with_overrides({"max_attempts": 10, "max_total_wait": 5.0})
    caller, adapter, time = _caller([TransientError("x")] * 10, policy)
    with pytest.raises(TransientError) as info:
        await caller.call(request())
    assert time.sleeps == [1.0, 2.0]  # the next (4.0) would make 7 > 5
    assert adapter.calls == 3
    assert info.value.attempts[-1].wait_before_next is None


# --- per-attempt timeout


async def test_attempt_timeout_is_transient_and_retried() -> None:
    async def stall(_: TargetRequest) -> AdapterReply:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    policy = FAST.with_overrides({"attempt_timeout": 0.01})
    caller, _, _ = _caller([stall, reply("late but fine")], policy)
    result = await caller.call(request())
    assert result.text == "late but fine"
    first = result.attempts[0]
    assert first.outcome == "timeout"
    assert first.error_class == "AttemptTimeoutError"
    assert "timed out after 0.01s" in (first.error_message or "")


# --- deadline


async def test_deadline_already_passed_sends_nothing() -> None:
    caller, adapter, time = _caller([reply()])
    with pytest.raises(DeadlineExceededError) as info:
        await caller.call(request(), deadline=time.now())
    assert adapter.calls == 0
    assert info.value.attempts == []
    assert isinstance(info.value, TimeoutError)


async def test_deadline_refuses_a_retry_wait_that_would_pass_it() -> None:
    caller, adapter, time = _caller([TransientError("a", status_code=500)] * 5)
    with pytest.raises(DeadlineExceededError) as info:
        await caller.call(request(), deadline=START + 2.5)  # waits 1 then 2 would end at 3
    assert time.sleeps == [1.0]
    assert adapter.calls == 2
    assert [a.outcome for a in info.value.attempts] == ["transient", "transient"]
    assert info.value.attempts[-1].wait_before_next is None
    assert isinstance(info.value.__cause__, TransientError)
    assert info.value.status_code == 500
    assert time.now() <= START + 2.5


async def test_deadline_cuts_the_last_attempt() -> None:
    async def stall(_: TargetRequest) -> AdapterReply:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    caller, adapter, time = _caller([stall, reply()])
    with pytest.raises(DeadlineExceededError) as info:
        await caller.call(request(), deadline=time.now() + 0.01)  # real 10 ms < 120 s timeout
    assert adapter.calls == 1
    (attempt,) = info.value.attempts
    assert attempt.outcome == "timeout"
    assert attempt.error_class == "DeadlineExceededError"


async def test_deadline_error_is_caught_as_timeout_by_a_runner() -> None:
    caller, _, time = _caller([RateLimitError("x", headers={"retry-after": "60"})])
    # ``except TimeoutError`` is what the runner maps to TerminationReason.TIMEOUT.
    with pytest.raises(TimeoutError) as info:
        await caller.call(request(), deadline=time.now() + 10)
    assert isinstance(info.value, TargetError)
    assert len(info.value.attempts) == 1


# --- records


async def test_attempt_records_carry_every_field_and_no_secret() -> None:
    secret = "sk-test-PLANTEDSECRET-0123456789abcdef"
    register_secret(secret)
    headers = {"x-request-id": "req_1", "x-ratelimit-remaining-requests": "0", "retry-after": "2"}
    error = RateLimitError(
        f"429 for key {secret}", status_code=429, request_id="req_1", headers=headers
    )
    ok_headers = {"x-request-id": "req_2", "x-ratelimit-remaining-tokens": "900"}
    final = reply(
        "hello",
        request_id="req_2",
        headers=ok_headers,
        usage=usage(10, 5),
        timing=ReplyTiming(sent_at=START + 2.25, connect_time=0.125, first_token_at=START + 2.5),
        finish_reason="stop",
    )

    async def slow_ok(_: TargetRequest) -> AdapterReply:
        time.advance(1.0)
        return final

    caller, _, time = _caller([error, slow_ok])
    result = await caller.call(request())
    failed, ok = result.attempts
    assert failed.model_dump() == {
        "index": 0,
        "started_at": START,
        "sent_at": None,
        "connect_time": None,
        "ended_at": START,
        "outcome": "rate_limit",
        "status_code": 429,
        "error_class": "RateLimitError",
        "error_message": "429 for key ***",
        "wait_before_next": 2.0,
        "request_id": "req_1",
        "rate_limit_headers": headers,
    }
    assert ok.model_dump() == {
        "index": 1,
        "started_at": START + 2.0,
        "sent_at": START + 2.25,
        "connect_time": 0.125,
        "ended_at": START + 3.0,
        "outcome": "ok",
        "status_code": None,
        "error_class": None,
        "error_message": None,
        "wait_before_next": None,
        "request_id": "req_2",
        "rate_limit_headers": ok_headers,
    }
    # The reply counts from its wire send, not from its attempt's start.
    assert (result.requested_at, result.started_at, result.ended_at) == (
        START,
        START + 2.25,
        START + 3,
    )
    assert result.timing.first_token_at == START + 2.5
    assert result.usage == usage(10, 5)
    assert result.finish_reason == "stop"
    assert secret not in repr(result)


async def test_a_reply_ends_when_its_last_bytes_arrived_if_the_transport_knows() -> None:
    async def late_reader(_: TargetRequest) -> AdapterReply:
        time.advance(1.0)  # the task saw the end 1 s after the bytes arrived (a busy loop)
        timing = ReplyTiming(sent_at=START, first_token_at=START + 0.25, ended_at=START + 0.5)
        return reply("hi", timing=timing)

    caller, _, time = _caller([late_reader])
    result = await caller.call(request())
    assert (result.started_at, result.timing.first_token_at, result.ended_at) == (
        START, START + 0.25, START + 0.5,
    )  # fmt: skip
    assert result.attempts[0].ended_at == START + 0.5


async def test_a_retried_stream_leaves_no_partial_text() -> None:
    streamed: list[str] = []

    async def cut_stream(_: TargetRequest) -> AdapterReply:
        streamed.append("The answer is")  # arrived, then the stream broke
        raise TransientError("stream cut before [DONE]")

    caller, _, _ = _caller([cut_stream, reply("The answer is B.")])
    result = await caller.call(request())
    assert streamed == ["The answer is"]
    assert result.text == "The answer is B."
    dumped = [a.model_dump_json() for a in result.attempts]
    assert not any("The answer is" in d for d in dumped)


# --- queue time from limits and slots


async def test_queue_time_counts_bucket_waits() -> None:
    policy = FAST.with_overrides({"requests_per_minute": 60, "burst_seconds": 1})
    caller, _, _ = _caller([], policy)
    first = await caller.call(request())
    second = await caller.call(request())
    assert first.queue_time == 0.0
    assert second.queue_time == pytest.approx(1.0)
    assert second.started_at == pytest.approx(START + 1.0)
    assert second.requested_at == START


async def test_queue_time_counts_waiting_for_a_slot() -> None:
    time = FakeClock()
    gate = anyio.Event()

    async def busy(_: TargetRequest) -> AdapterReply:
        await gate.wait()
        time.advance(5.0)
        return reply("first")

    adapter = ScriptedAdapter([busy, reply("second")], time=time)
    caller = TargetCaller(
        adapter, FAST.with_overrides({"max_concurrency": 1}), clock=time, sleep=time.sleep
    )
    results: dict[str, float] = {}

    async def run(name: str) -> None:
        results[name] = (await caller.call(request())).queue_time

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, "a")
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(run, "b")
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert results == {"a": 0.0, "b": pytest.approx(5.0)}


async def test_token_bucket_corrected_by_real_usage() -> None:
    policy = FAST.with_overrides(
        {"tokens_per_minute": 6000, "burst_seconds": 1, "expected_completion_tokens": 50}
    )
    caller, _, _ = _caller([reply(usage=usage(5, 5))], policy)  # estimate 4+4+3+50 = 58
    await caller.call(request("abcd" * 4))
    assert caller.limits.tokens is not None
    assert caller.limits.tokens.level == pytest.approx(100 - 10)


async def test_rate_limit_with_retry_after_pauses_the_target() -> None:
    policy = FAST.with_overrides({"max_attempts": 1, "pressure_window": 1})  # every 429 counts
    caller, adapter, time = _caller([RateLimitError("x", headers={"retry-after": "6"})], policy)
    with pytest.raises(RateLimitError):
        await caller.call(request())
    time.advance(1.0)
    result = await caller.call(request())  # another episode's call, during the pause
    assert result.queue_time == pytest.approx(5.0)
    assert result.started_at == pytest.approx(START + 6.0)
    assert adapter.calls == 2


async def test_pause_can_be_switched_off() -> None:
    policy = FAST.with_overrides({"max_attempts": 1, "pause_on_retry_after": False})
    caller, _, _ = _caller([RateLimitError("x", headers={"retry-after": "6"})], policy)
    with pytest.raises(RateLimitError):
        await caller.call(request())
    assert (await caller.call(request())).queue_time == 0.0


# --- adaptive concurrency through the caller


async def test_rate_limits_lower_the_limit_and_quiet_raises_it() -> None:
    policy = FAST.with_overrides(
        {
            "max_concurrency": 8,
            "adaptive_quiet_period": 10.0,
            "pause_on_retry_after": False,
            "pressure_window": 1,
        }  # every 429 counts as pressure
    )
    caller, _, time = _caller([RateLimitError("x"), RateLimitError("x")], policy)
    await caller.call(request())
    assert caller.concurrency.limit == 2  # two fresh rounds: 8 -> 4 -> 2
    time.advance(30.0)
    for _ in range(2):
        await caller.call(request())
    assert caller.concurrency.limit == 3
    assert [(c.old, c.new, c.reason) for c in caller.limit_changes] == [
        (8, 4, "rate_limit"),
        (4, 2, "rate_limit"),
        (2, 3, "quiet_period"),
    ]


async def test_transient_errors_do_not_lower_the_limit() -> None:
    caller, _, _ = _caller([TransientError("x"), TransientError("x")])
    await caller.call(request())
    assert caller.concurrency.limit == FAST.max_concurrency


# --- authentication stop


async def test_auth_failure_fails_fast_afterwards_without_sending() -> None:
    caller, adapter, _ = _caller([AuthenticationError("invalid key", status_code=401), reply()])
    with pytest.raises(AuthenticationError) as first:
        await caller.call(request())
    assert caller.auth_failed is first.value
    for _ in range(3):
        with pytest.raises(AuthenticationError) as again:
            await caller.call(request())
        assert again.value.status_code == 401
        assert again.value.attempts == []
        assert "not sent" in str(again.value)
    assert adapter.calls == 1


# --- failures that are not target errors


async def test_a_foreign_error_propagates_and_frees_the_slot() -> None:
    caller, _, _ = _caller(
        [ValueError("adapter bug"), reply()], FAST.with_overrides({"max_concurrency": 1})
    )
    with pytest.raises(ValueError, match="adapter bug"):
        await caller.call(request())
    assert (await caller.call(request())).text == "ok"


async def test_cancellation_frees_the_slot() -> None:
    async def stall(_: TargetRequest) -> AdapterReply:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    caller, _, _ = _caller([stall, reply()], FAST.with_overrides({"max_concurrency": 1}))
    with anyio.move_on_after(0.01):
        await caller.call(request())
    assert caller.concurrency.limiter.borrowed_tokens == 0
    assert (await caller.call(request())).text == "ok"


# --- logging, stats, lifecycle


async def test_each_retry_logs_one_warning_with_classification_and_wait() -> None:
    caller, _, _ = _caller([RateLimitError("x", status_code=429), TransientError("y"), reply()])
    with capture_logs() as logs:
        await caller.call(request())
    retries = [e for e in logs if e["event"] == "retrying target call"]
    assert [(e["log_level"], e["outcome"], e["wait"], e["attempt"]) for e in retries] == [
        ("warning", "rate_limit", 1.0, 1),
        ("warning", "transient", 2.0, 2),
    ]


async def test_stats_and_aclose() -> None:
    caller, adapter, _ = _caller([TransientError("x"), reply(), PermanentError("p")])
    await caller.call(request())
    with pytest.raises(PermanentError):
        await caller.call(request())
    s = caller.stats
    assert (s.calls, s.succeeded, s.failed, s.attempts, s.retries) == (2, 1, 1, 3, 1)
    await caller.aclose()
    assert adapter.closed


async def test_old_positional_signature_still_works() -> None:
    adapter = ScriptedAdapter([reply("hi")])
    caller = TargetCaller(adapter, CallPolicy(backoff_initial=0, backoff_max=0))
    assert (await caller.call(request())).text == "hi"


async def test_cancellation_during_a_retry_wait_holds_no_slot() -> None:
    async def endless(_: float) -> None:
        await anyio.sleep_forever()

    adapter = ScriptedAdapter([TransientError("x"), reply()])
    caller = TargetCaller(adapter, FAST.with_overrides({"max_concurrency": 1}), sleep=endless)
    with anyio.move_on_after(0.01) as scope:
        await caller.call(request())
    assert scope.cancelled_caught
    assert caller.concurrency.limiter.borrowed_tokens == 0
    assert adapter.calls == 1
