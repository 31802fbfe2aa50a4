"""Per-target rate limits: token buckets on requests and tokens per minute, plus a pause gate.

Hand-written rather than a library (aiolimiter, limits): we need an injected clock and sleep
(tests never wait), debt (a request larger than the bucket still goes, and the bucket goes
negative so the long-run rate holds), corrections after the fact (the reply's real token
usage), and feeding from the provider's rate-limit headers (OpenAI's ``x-ratelimit-*``,
Anthropic's ``anthropic-ratelimit-*``). None of those libraries
offers all four; the arithmetic is a few lines.

Waiters queue in FIFO order behind one ``anyio.Lock``, so a large request is not starved by a
stream of small ones; the lock is touched only when something has to wait.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import anyio

from chatsim._util._clock import Clock
from chatsim.targets._contract import TargetRequest
from chatsim.targets._policy import CallPolicy
from chatsim.targets._retry import DeadlineExceededError

__all__ = [
    "CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "RateLimits",
    "TokenBucket",
    "estimate_tokens",
    "parse_reset",
]

CHARS_PER_TOKEN: Final = 4
"""OpenAI's rule of thumb for English text; good enough to pace, corrected by real usage."""
MESSAGE_OVERHEAD_TOKENS: Final = 4
"""Per-message framing tokens (role, separators) in chat formats."""
REPLY_PRIMING_TOKENS: Final = 3

Sleep = Callable[[float], Awaitable[None]]


def estimate_tokens(request: TargetRequest, expected_completion_tokens: int) -> int:
    """Tokens a request will count against tokens-per-minute, before it is sent.

    ``ceil(characters / 4)`` per message plus 4 framing tokens each, plus 3 to prime the reply,
    plus the reply: ``max_tokens`` when set (providers reserve it), else
    ``expected_completion_tokens``. The bucket is corrected with the reply's real usage.
    """
    prompt = REPLY_PRIMING_TOKENS
    for message in request.messages:
        prompt += -(-len(message.content) // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS
    reply = request.max_tokens if request.max_tokens is not None else expected_completion_tokens
    return prompt + reply


_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str, now: float | None = None) -> float | None:
    """Seconds until a rate limit resets.

    A duration (``x-ratelimit-reset-*``: ``"20ms"``, ``"1s"``, ``"6m0s"``, ``"1.5"``) or, given
    ``now`` (epoch seconds), an RFC 3339 time (``anthropic-ratelimit-*-reset``:
    ``"2026-01-01T00:00:30Z"``; a time already past is 0).
    """
    text = value.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    parts = _DURATION.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return _seconds_until(value.strip(), now) if now is not None else None


def _seconds_until(timestamp: str, now: float) -> float | None:
    try:
        when = dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if when.tzinfo is None or "T" not in timestamp.upper():
        return None  # a bare date or a time without its zone says too little
    return max(0.0, when.timestamp() - now)


#: Where each provider reports what is left of a limit (``requests``, ``tokens``) and when it
#: resets: OpenAI's names, then Anthropic's (first present wins).
_REMAINING_RESET: Final = (
    ("x-ratelimit-remaining-{}", "x-ratelimit-reset-{}"),
    ("anthropic-ratelimit-{}-remaining", "anthropic-ratelimit-{}-reset"),
)


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity``; the level may go negative."""

    __slots__ = ("capacity", "level", "not_before", "rate", "updated_at")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.updated_at = now
        self.not_before = -math.inf
        """The provider said "nothing left until then" (``remaining: 0`` with a reset time)."""

    def _refill(self, now: float) -> None:
        if now > self.updated_at:
            self.level = min(self.capacity, self.level + (now - self.updated_at) * self.rate)
            self.updated_at = now

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` may be taken (0 if now). Larger-than-capacity amounts wait
        for a full bucket and then go into debt, so they are never stuck."""
        self._refill(now)
        short = min(amount, self.capacity) - self.level
        wait = short / self.rate if short > 0 else 0.0
        return max(wait, self.not_before - now)

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def set_rate(self, rate: float, capacity: float, now: float) -> None:
        """A new rate and size, keeping what the bucket holds (at most the new capacity):
        refilled at the old rate up to now, at the new one from now on."""
        self._refill(now)
        self.rate, self.capacity = rate, capacity
        self.level = min(self.level, capacity)

    def adjust(self, delta: float, now: float) -> None:
        """Give back (positive) or charge (negative) tokens after the fact."""
        self._refill(now)
        self.level = min(self.capacity, self.level + delta)

    def observe(self, remaining: float, reset_after: float | None, now: float) -> None:
        """The provider's view: ``remaining`` left now, refilled in ``reset_after`` seconds.

        Only ever lowers our level (others may share the quota; we never trust a header to
        grant more than our own bucket); ``remaining <= 0`` closes the bucket until the reset.
        """
        self._refill(now)
        if remaining < self.level:
            self.level = remaining
        if remaining <= 0 and reset_after is not None:
            self.not_before = max(self.not_before, now + reset_after)


class RateLimits:
    """A target's buckets (requests, tokens) and its Retry-After pause, behind one queue."""

    def __init__(self, policy: CallPolicy, clock: Clock, sleep: Sleep) -> None:
        now = clock.now()
        self._clock = clock
        self._sleep = sleep
        self._burst = policy.burst_seconds
        self.requests = _bucket(policy.requests_per_minute, self._burst, now)
        self.tokens = _bucket(policy.tokens_per_minute, self._burst, now)
        self.counts_tokens = self.tokens is not None
        self.has_buckets = self.requests is not None or self.tokens is not None
        self._use_headers = policy.use_rate_limit_headers
        self.paused_until = -math.inf
        self._queue = anyio.Lock()

    def _wait_time(self, tokens: int, now: float) -> float:
        wait = self.paused_until - now
        if self.requests is not None:
            wait = max(wait, self.requests.wait_time(1, now))
        if self.tokens is not None:
            wait = max(wait, self.tokens.wait_time(tokens, now))
        return wait

    def _take(self, tokens: int, now: float) -> None:
        if self.requests is not None:
            self.requests.take(1, now)
        if self.tokens is not None:
            self.tokens.take(tokens, now)

    async def acquire(self, tokens: int, deadline: float | None) -> float:
        """Wait until one request of ``tokens`` may go; return the seconds waited.

        Raises ``DeadlineExceededError`` (without waiting) when the wait would pass
        ``deadline``.
        """
        now = self._clock.now()
        if not self._queue.locked() and self._wait_time(tokens, now) <= 0:
            self._take(tokens, now)
            return 0.0
        started = now
        async with self._queue:
            while True:
                now = self._clock.now()
                wait = self._wait_time(tokens, now)
                if wait <= 0:
                    self._take(tokens, now)
                    return now - started
                if deadline is not None and now + wait > deadline:
                    raise DeadlineExceededError(
                        f"the episode deadline would pass while waiting {wait:.3g}s "
                        "for the target's rate limit"
                    )
                await self._sleep(wait)

    def set_rates(
        self, requests_per_minute: float | None, tokens_per_minute: float | None, now: float
    ) -> None:
        """Change the limits in place (a Ray worker's share as workers come and go). A limit
        can be rescaled, not added or removed: waiters and in-flight debt stay consistent."""
        pairs = ((self.requests, requests_per_minute), (self.tokens, tokens_per_minute))
        if any((bucket is None) != (per_minute is None) for bucket, per_minute in pairs):
            raise ValueError("set_rates rescales the existing limits; it cannot add or remove one")
        for bucket, per_minute in pairs:
            if bucket is not None and per_minute is not None:
                rate = per_minute / 60.0
                bucket.set_rate(rate, _capacity(rate, self._burst), now)

    def pause(self, seconds: float, now: float) -> None:
        """Hold every new attempt for ``seconds`` (a server's Retry-After)."""
        self.paused_until = max(self.paused_until, now + seconds)

    def settle(self, estimated: int, actual: int | None, now: float) -> None:
        """Correct the token bucket once the real count is known (None: keep the estimate)."""
        if self.tokens is not None and actual is not None:
            self.tokens.adjust(estimated - actual, now)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Feed the remaining / reset headers (``x-ratelimit-remaining-requests``,
        ``anthropic-ratelimit-tokens-remaining``, ...) into the buckets."""
        if not self._use_headers or not headers:
            return
        for kind, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            if bucket is None:
                continue
            for remaining_name, reset_name in _REMAINING_RESET:
                raw = headers.get(remaining_name.format(kind))
                if raw is None:
                    continue
                try:
                    remaining = float(raw)
                except ValueError:
                    break
                reset_raw = headers.get(reset_name.format(kind))
                reset = parse_reset(reset_raw, now) if reset_raw is not None else None
                bucket.observe(remaining, reset, now)
                break


def _bucket(per_minute: float | None, burst_seconds: float, now: float) -> TokenBucket | None:
    if per_minute is None:
        return None
    rate = per_minute / 60.0
    return TokenBucket(rate, _capacity(rate, burst_seconds), now)


def _capacity(rate: float, burst_seconds: float) -> float:
    return max(1.0, rate * burst_seconds)
