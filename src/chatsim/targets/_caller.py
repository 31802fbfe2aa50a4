"""The core's side of every target call: concurrency, timeouts, retries, timing, attempts.

Adapters make one attempt; this module decides whether and when to make another, and records
each one. (First slice: a simple retry loop; the resilience work replaces it with tenacity-based
policies, rate limits and adaptive concurrency behind the same ``TargetCaller.call``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from chatsim._exceptions import AttemptTimeoutError, TargetError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim._util._redact import scrub
from chatsim.recording._records import AttemptRecord
from chatsim.targets._contract import TargetAdapter, TargetReply, TargetRequest

__all__ = ["CallPolicy", "TargetCaller"]


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How the core treats calls to one target."""

    max_concurrency: int = 64
    """Calls in flight at once for this target."""
    max_attempts: int = 5
    """Attempts per call, the first included."""
    attempt_timeout: float = 120.0
    """Seconds one attempt may take, streaming included."""
    backoff_initial: float = 1.0
    backoff_max: float = 30.0


class TargetCaller:
    """Calls one target for many episodes at once."""

    def __init__(
        self,
        adapter: TargetAdapter,
        policy: CallPolicy | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.adapter = adapter
        self.policy = policy or CallPolicy()
        self._clock = clock or MonotonicWallClock()
        self._slots = anyio.CapacityLimiter(self.policy.max_concurrency)

    async def call(self, request: TargetRequest) -> TargetReply:
        """One assistant turn. Raises the last ``TargetError`` (with ``.attempts``) on failure."""
        now = self._clock.now
        requested_at = now()
        attempts: list[AttemptRecord] = []
        async with self._slots:
            queue_time = now() - requested_at
            for index in range(self.policy.max_attempts):
                started = now()
                try:
                    with anyio.fail_after(self.policy.attempt_timeout):
                        reply = await self.adapter.complete(request, now=now)
                except TimeoutError as exc:
                    error: TargetError = AttemptTimeoutError(
                        f"attempt timed out after {self.policy.attempt_timeout:g}s"
                    )
                    error.__cause__ = exc
                except TargetError as exc:
                    error = exc
                else:
                    ended = now()
                    attempts.append(
                        AttemptRecord(
                            index=index,
                            started_at=started,
                            ended_at=ended,
                            outcome="ok",
                            request_id=reply.request_id,
                            rate_limit_headers=reply.headers,
                        )
                    )
                    return TargetReply(
                        text=reply.text,
                        usage=reply.usage,
                        requested_at=requested_at,
                        started_at=started,
                        first_token_at=reply.first_token_at,
                        ended_at=ended,
                        queue_time=queue_time,
                        attempts=attempts,
                        finish_reason=reply.finish_reason,
                    )
                retryable = error.category in ("rate_limit", "transient")
                last = index + 1 >= self.policy.max_attempts or not retryable
                wait = (
                    None
                    if last
                    else min(self.policy.backoff_max, self.policy.backoff_initial * 2**index)
                )
                attempts.append(
                    AttemptRecord(
                        index=index,
                        started_at=started,
                        ended_at=now(),
                        outcome="timeout"
                        if isinstance(error, AttemptTimeoutError)
                        else error.category,
                        status_code=error.status_code,
                        error_class=type(error).__name__,
                        error_message=scrub(str(error))[:500],
                        wait_before_next=wait,
                        request_id=error.request_id,
                        rate_limit_headers=error.headers,
                    )
                )
                if wait is None:
                    error.attempts = attempts
                    raise error
                await anyio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self.adapter.aclose()
