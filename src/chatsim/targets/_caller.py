"""The core's side of every target call: concurrency, rate limits, timeouts, retries, attempts.

Adapters make one attempt; ``TargetCaller`` decides whether and when to make another and
records each one. The first attempt runs without tenacity (the success path pays for a slot,
a timeout scope and two records, nothing more); a failure that may be retried hands over to a
tenacity ``AsyncRetrying`` loop whose first "attempt" replays that failure, so every wait and
stop decision after it is tenacity's, driven by the pure functions of ``_retry``.

Per attempt: take a concurrency slot (``_adaptive``), pass the rate limits (``_limits``),
send under ``fail_after``, release the slot. Slots are released during retry waits, so a
lowered adaptive limit binds retries too. Every wait for a slot or a bucket adds to the
reply's ``queue_time``; retry waits do not (they are in the attempts' timings).

Deadlines: ``call(request, deadline=t)`` (``t`` in the caller's clock) never starts an
attempt, a retry wait or a queue wait that would pass ``t``, and cuts the last attempt's
timeout to end at ``t``; each case raises ``DeadlineExceededError``, which is both a
``chatsim.AttemptTimeoutError`` and a builtin ``TimeoutError`` (the runner maps it to
``TerminationReason.TIMEOUT``) and carries ``.attempts`` like every other final error.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from chatsim._exceptions import AuthenticationError, TargetError
from chatsim._logging import get_logger
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim._util._redact import scrub
from chatsim.targets._adaptive import AdaptiveConcurrency, LimitChange
from chatsim.targets._attempts import MESSAGE_LIMIT, Call, refused_error, timeout_error
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetReply, TargetRequest
from chatsim.targets._http_errors import (
    as_connect_timeout,
    connect_timeout_error,
    is_connect_timeout,
)
from chatsim.targets._limits import RateLimits, estimate_tokens
from chatsim.targets._policy import CallPolicy
from chatsim.targets._retry import (
    DeadlineExceededError,
    classify,
    retry_after_hint,
    retry_delay,
)

__all__ = ["CallPolicy", "CallerStats", "TargetCaller"]

Sleep = Callable[[float], Awaitable[None]]
_log = get_logger("chatsim.targets")


def is_retryable(error: BaseException) -> bool:
    """Rate limits and transient failures (timeouts included); never a deadline."""
    return isinstance(error, TargetError) and error.category in ("rate_limit", "transient")


@dataclass(slots=True)
class CallerStats:
    """Running totals for one target (for summaries and load tests)."""

    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    queue_time: float = 0.0


class TargetCaller:
    """Calls one target for many episodes at once (one budget: see ``CallerPool``).

    ``clock`` times everything; ``sleep`` performs retry and rate-limit waits (tests inject a
    fake pair so nothing waits for real); ``rand`` draws the backoff jitter.
    """

    def __init__(
        self,
        adapter: TargetAdapter,
        policy: CallPolicy | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        rand: Callable[[], float] | None = None,
        name: str | None = None,
    ) -> None:
        self.adapter = adapter
        self.policy = policy or CallPolicy()
        self.name = name or adapter.name or type(adapter).__name__
        self._clock = clock or MonotonicWallClock()
        self._now = self._clock.now
        self._sleep: Sleep = sleep or anyio.sleep
        self._rand = rand or random.random
        self.concurrency = AdaptiveConcurrency(self.policy, self._now())
        self.limits = RateLimits(self.policy, self._clock, self._sleep)
        self.stats = CallerStats()
        self.auth_failed: AuthenticationError | None = None
        """The first authentication error; once set, every call fails fast without sending."""

    def reshape(self, policy: CallPolicy) -> None:
        """Take ``policy``'s budget (concurrency bounds, rpm, tpm) in place, keeping the
        adaptive limit's place and what the buckets hold: a Ray worker's share of a target as
        workers come and go. Retries and timeouts follow ``policy`` from the next call."""
        now = self._now()
        self.concurrency.resize(policy.max_concurrency, policy.min_concurrency, now)
        self.limits.set_rates(policy.requests_per_minute, policy.tokens_per_minute, now)
        self.policy = policy

    @property
    def limit_changes(self) -> list[LimitChange]:
        """Every change of the adaptive concurrency limit so far."""
        return self.concurrency.changes

    async def call(self, request: TargetRequest, *, deadline: float | None = None) -> TargetReply:
        """One assistant turn, retried per the policy.

        Raises the final ``TargetError`` with ``.attempts`` set: the last attempt's error, or
        ``DeadlineExceededError`` when ``deadline`` (clock time) cut the call short.
        """
        refused = self.auth_failed
        if refused is not None:
            raise refused_error(self.name, refused)
        self.stats.calls += 1
        call = Call(request, deadline, self._now())
        if deadline is not None and call.requested_at >= deadline:
            raise self._finish(call, DeadlineExceededError("the episode deadline had passed"))
        if self.limits.counts_tokens:
            call.tokens = estimate_tokens(request, self.policy.expected_completion_tokens)
        try:
            reply = await self._attempt(call)
        except TargetError as exc:
            reply = await self._retry(call, exc)
        self.stats.succeeded += 1
        self.stats.queue_time += call.queue_time
        return TargetReply(
            text=reply.text,
            usage=reply.usage,
            requested_at=call.requested_at,
            started_at=call.started_at,
            ended_at=call.attempts[-1].ended_at,
            queue_time=call.queue_time,
            attempts=call.attempts,
            timing=reply.timing,
            finish_reason=reply.finish_reason,
        )

    # --- one attempt

    async def _admit(self, call: Call) -> int:
        """Take a slot and pass the rate limits; return the round the attempt is sent in."""
        slots = self.concurrency.limiter
        try:
            slots.acquire_on_behalf_of_nowait(call)
        except anyio.WouldBlock:
            await self._queue_for_slot(call)
        try:
            limits = self.limits
            if limits.has_buckets or limits.paused_until > self._now():
                call.queue_time += await limits.acquire(call.tokens, call.deadline)
            if call.deadline is not None and self._now() >= call.deadline:
                raise DeadlineExceededError("the episode deadline passed while queued")
        except BaseException:
            slots.release_on_behalf_of(call)
            raise
        return self.concurrency.generation

    async def _queue_for_slot(self, call: Call) -> None:
        queued = self._now()
        slots = self.concurrency.limiter
        if call.deadline is None:
            await slots.acquire_on_behalf_of(call)
        else:
            with anyio.move_on_after(max(0.0, call.deadline - queued)) as scope:
                await slots.acquire_on_behalf_of(call)
            if scope.cancelled_caught:
                raise DeadlineExceededError(
                    "the episode deadline passed while waiting for a concurrency slot"
                )
        call.queue_time += self._now() - queued

    async def _attempt(self, call: Call) -> AdapterReply:
        generation = await self._admit(call)
        now = self._now
        started = now()
        timeout = self.policy.attempt_timeout
        deadline = call.deadline
        cut_by_deadline = deadline is not None and deadline - started < timeout
        if deadline is not None and cut_by_deadline:
            timeout = max(0.0, deadline - started)
        error: TargetError | None = None
        try:
            # A bare CancelScope is fail_after without its two generator context managers:
            # about 1.5 us less per attempt (benchmarks/bench_caller.py).
            with anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope:
                reply = await self.adapter.complete(call.request, now=now)
            if scope.cancelled_caught:
                error = timeout_error(timeout, cut_by_deadline)
        except TargetError as exc:
            error = exc if exc.category != "transient" else as_connect_timeout(exc, self.name)
        except TimeoutError as exc:  # an adapter's own untranslated timeout
            error = timeout_error(timeout, cut_by_deadline)
            if is_connect_timeout(exc):  # aiohttp's is a TimeoutError too: never sent
                error = connect_timeout_error(self.name)
            error.__cause__ = exc
        finally:  # also on cancellation and on an adapter's foreign error (a bug)
            self.concurrency.limiter.release_on_behalf_of(call)
        if error is None:
            ended = now()
            arrived = reply.timing.ended_at
            if arrived is not None:  # the last bytes' arrival, not the task's return
                ended = max(started, min(ended, arrived))
            self._succeeded(call, reply, generation, started, ended)
            return reply
        self._failed(call, error, generation, started, now())
        raise error

    def _succeeded(
        self, call: Call, reply: AdapterReply, generation: int, started: float, ended: float
    ) -> None:
        self.stats.attempts += 1
        self.concurrency.on_success(ended, generation)
        if reply.headers:
            self.limits.observe_headers(reply.headers, ended)
        if call.tokens:
            usage = reply.usage
            self.limits.settle(call.tokens, usage.total_tokens if usage else None, ended)
        call.record_success(reply, started, ended)

    def _failed(
        self, call: Call, error: TargetError, generation: int, started: float, ended: float
    ) -> None:
        self.stats.attempts += 1
        call.failure = (started, ended, error)
        if error.headers:
            self.limits.observe_headers(error.headers, ended)
        category = error.category
        if category == "rate_limit":
            self.stats.rate_limited += 1
            pressured = self.concurrency.on_rate_limit(generation, ended)
            # An isolated 429 delays only its own call (its retry waits the hint); under
            # pressure every new attempt waits, or the others would earn 429s too.
            if pressured and self.policy.pause_on_retry_after:
                hint = retry_after_hint(error, ended)
                if hint is not None:
                    self.limits.pause(min(hint, self.policy.max_retry_after), ended)
        if call.tokens and category in ("rate_limit", "auth", "permanent"):
            self.limits.settle(call.tokens, 0, ended)  # refused: nothing was generated
        if category == "auth" and self.auth_failed is None:
            assert isinstance(error, AuthenticationError)
            self.auth_failed = error
            _log.error(
                "target refused the credentials; stopping calls to it",
                target=self.name,
                status=error.status_code,
                error=scrub(str(error))[:MESSAGE_LIMIT],
            )

    # --- retries

    async def _retry(self, call: Call, first: TargetError) -> AdapterReply:
        if not is_retryable(first) or self.policy.max_attempts <= 1:
            raise self._give_up(call, first)
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=lambda state: self._stop(call, state),
            wait=lambda state: self._wait(state),
            retry=retry_if_exception(is_retryable),
            before_sleep=lambda state: self._before_sleep(call, state),
            reraise=True,
        )
        pending: TargetError | None = first
        try:
            async for attempt in retrying:
                with attempt:
                    if pending is not None:  # replay the failure that brought us here
                        error, pending = pending, None
                        raise error
                    return await self._attempt(call)
        except TargetError as exc:
            last = exc
        else:  # pragma: no cover - tenacity returns or raises
            raise AssertionError("retry loop ended without an outcome")
        raise self._give_up(call, last)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, TargetError)
        policy = self.policy
        return retry_delay(
            error,
            state.attempt_number - 1,
            now=self._now(),
            initial=policy.backoff_initial,
            maximum=policy.backoff_max,
            multiplier=policy.backoff_multiplier,
            jitter=policy.jitter,
            max_retry_after=policy.max_retry_after,
            u=self._rand(),
        )

    def _stop(self, call: Call, state: RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        wait = state.upcoming_sleep
        if call.waited + wait > self.policy.max_total_wait:
            return True
        if call.deadline is not None and self._now() + wait >= call.deadline:
            call.deadline_hit = True
            return True
        return False

    def _before_sleep(self, call: Call, state: RetryCallState) -> None:
        wait = state.upcoming_sleep
        call.waited += wait
        self.stats.retries += 1
        record = call.record_failure(wait)
        _log.warning(
            "retrying target call",
            target=self.name,
            attempt=record.index + 1,
            outcome=record.outcome,
            status=record.status_code,
            error=record.error_class,
            wait=round(wait, 3),
            request_id=record.request_id,
        )

    def _give_up(self, call: Call, error: TargetError) -> TargetError:
        """Record the last failed attempt and return the error to raise."""
        if call.failure is not None:
            call.record_failure(None)
        if call.deadline_hit:
            final: TargetError = DeadlineExceededError(
                f"the episode deadline leaves no time to retry after "
                f"{type(error).__name__}: {scrub(str(error))[:MESSAGE_LIMIT]}",
                status_code=error.status_code,
                request_id=error.request_id,
                headers=error.headers,
            )
            final.__cause__ = error
            error = final
        if error.category != "auth":
            _log.warning(
                "target call failed",
                target=self.name,
                attempts=len(call.attempts),
                outcome=classify(error),
                error=type(error).__name__,
            )
        return self._finish(call, error)

    def _finish(self, call: Call, error: TargetError) -> TargetError:
        self.stats.failed += 1
        self.stats.queue_time += call.queue_time
        error.attempts = call.attempts
        return error

    async def aclose(self) -> None:
        """Close the adapter's connections."""
        await self.adapter.aclose()
