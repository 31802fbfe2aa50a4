"""One call's state and the record of each of its attempts (``AttemptRecord``).

``TargetCaller`` decides whether and when to attempt; this module keeps what each attempt
was: its times, outcome, status, error class and message (secrets scrubbed), the wait before
the next one, request id and the rate-limit headers worth keeping.
"""

from __future__ import annotations

from chatsim._exceptions import AttemptTimeoutError, AuthenticationError, TargetError
from chatsim._util._redact import keep_recorded_headers, scrub
from chatsim.recording._records import AttemptRecord
from chatsim.targets._contract import AdapterReply, TargetRequest
from chatsim.targets._retry import DeadlineExceededError, classify

__all__ = ["MESSAGE_LIMIT", "Call", "refused_error", "timeout_error"]

MESSAGE_LIMIT = 500
"""Characters of an error message kept in a record or a log line."""


class Call:
    """Per-call state; also the borrower object of the concurrency slot."""

    __slots__ = (
        "attempts",
        "deadline",
        "deadline_hit",
        "failure",
        "queue_time",
        "request",
        "requested_at",
        "started_at",
        "tokens",
        "waited",
    )

    def __init__(self, request: TargetRequest, deadline: float | None, now: float) -> None:
        self.request = request
        self.deadline = deadline
        self.requested_at = now
        self.started_at = now
        self.queue_time = 0.0
        self.waited = 0.0
        self.tokens = 0
        self.deadline_hit = False
        self.attempts: list[AttemptRecord] = []
        self.failure: tuple[float, float, TargetError] | None = None

    def record_success(self, reply: AdapterReply, started: float, ended: float) -> None:
        """Record a successful attempt; the call's start is when its body was sent."""
        timing = reply.timing
        sent = timing.sent_at
        self.started_at = sent if sent is not None else started
        self.attempts.append(
            AttemptRecord.succeeded(
                index=len(self.attempts),
                started_at=started,
                ended_at=ended,
                timing=timing,
                request_id=reply.request_id,
                rate_limit_headers=keep_recorded_headers(reply.headers),
            )
        )

    def record_failure(self, wait: float | None) -> AttemptRecord:
        """Record the pending failed attempt, with the wait before the next one (if any)."""
        assert self.failure is not None
        started, ended, error = self.failure
        self.failure = None
        record = AttemptRecord(
            index=len(self.attempts),
            started_at=started,
            ended_at=ended,
            outcome=classify(error),
            status_code=error.status_code,
            error_class=type(error).__name__,
            error_message=scrub(str(error))[:MESSAGE_LIMIT],
            wait_before_next=wait,
            request_id=error.request_id,
            rate_limit_headers=keep_recorded_headers(error.headers),
        )
        self.attempts.append(record)
        return record


def timeout_error(timeout: float, cut_by_deadline: bool) -> TargetError:
    if cut_by_deadline:
        return DeadlineExceededError(f"the episode deadline cut the attempt at {timeout:.3g}s")
    return AttemptTimeoutError(f"attempt timed out after {timeout:g}s")


def refused_error(name: str, original: AuthenticationError) -> AuthenticationError:
    error = AuthenticationError(
        f"not sent: {name} already refused the credentials ({scrub(str(original))[:200]})",
        status_code=original.status_code,
    )
    error.__cause__ = original
    return error
