"""Retry decisions as small pure functions: classify, parse ``Retry-After``, back off.

Nothing here sleeps or reads a clock: callers pass ``now`` and a uniform draw ``u`` in
[0, 1), so every decision is a plain function of its inputs and tests need no time at all.

The deadline error lives here too, because both the retry loop and the rate limiter raise it.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from typing import Final

from chatsim._exceptions import AttemptTimeoutError, TargetError, TransientError
from chatsim.recording._records import AttemptOutcome

__all__ = [
    "RETRYABLE",
    "ConnectTimeoutError",
    "DeadlineExceededError",
    "backoff_delay",
    "classify",
    "parse_retry_after",
    "retry_after_hint",
    "retry_delay",
]

#: Outcomes that a later attempt can fix.
RETRYABLE: Final = frozenset({"rate_limit", "transient", "timeout", "connect_timeout"})

_OUTCOMES: Final = frozenset({"rate_limit", "transient", "permanent", "auth"})


class DeadlineExceededError(AttemptTimeoutError, TimeoutError):
    """The episode's deadline arrived (or would arrive) before the call could finish.

    Raised by ``TargetCaller.call(..., deadline=...)`` instead of starting an attempt, a retry
    wait or a queue wait that would run past the deadline, or when an attempt cut short by the
    deadline times out. It is a ``chatsim.AttemptTimeoutError`` (so ``except TargetError``
    still sees it, with ``.attempts``) *and* a builtin ``TimeoutError``: a runner that maps
    ``TimeoutError`` to ``TerminationReason.TIMEOUT`` needs no extra branch. Its ``category``
    is ``"deadline"``; the caller never retries it.
    """

    category = "deadline"


class ConnectTimeoutError(TransientError):
    """The connection could not be set up in time (DNS, TCP, TLS, or a free pooled connection):
    the request was never sent. Retried like any transient failure; recorded as
    ``connect_timeout``, apart from ``timeout`` (a reply that did not finish), because the two
    call for different fixes (client-side connection limits vs a slow server)."""


def classify(error: BaseException) -> AttemptOutcome:
    """How the retry policy treats ``error``, from its class alone (never its message).

    ``AttemptTimeoutError`` (and the deadline error) is ``timeout``, ``ConnectTimeoutError``
    ``connect_timeout``; other ``TargetError``
    subclasses give their ``category``. Anything else, or an unknown category, is
    ``permanent``: a foreign error is a bug in an adapter and retrying would hide it.
    """
    if isinstance(error, AttemptTimeoutError):
        return "timeout"
    if isinstance(error, ConnectTimeoutError):
        return "connect_timeout"
    if isinstance(error, TargetError):
        category = error.category
        if category in _OUTCOMES:
            return category  # type: ignore[return-value]  # checked against _OUTCOMES
    return "permanent"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():  # rare: a mapping that kept the server's casing
        if key.lower() == name:
            return candidate
    return None


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asked us to wait, or None when it gave no usable hint.

    Checks ``retry-after-ms`` (milliseconds), then ``retry-after`` as seconds (floats
    accepted, as some servers send them), then ``retry-after`` as an HTTP date, taken relative
    to ``now`` (epoch seconds). A date in the past gives 0.0. Malformed, negative, NaN or
    infinite values give None, so the caller falls back to its own backoff.
    """
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = _header(headers, name)
        if raw is None:
            continue
        try:
            seconds = float(raw.strip()) * scale
        except ValueError:
            continue
        if seconds >= 0 and math.isfinite(seconds):
            return seconds
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    parsed = email.utils.parsedate_tz(raw.strip())
    if parsed is None:
        return None
    try:
        when = float(email.utils.mktime_tz(parsed))
    except (OverflowError, ValueError):  # pragma: no cover - absurd years
        return None
    return max(0.0, when - now)


def retry_after_hint(error: TargetError, now: float) -> float | None:
    """The server's wait hint for ``error``: its raw headers first, else the adapter's parse."""
    hint = parse_retry_after(error.headers, now) if error.headers else None
    if hint is None:
        attribute = getattr(error, "retry_after", None)
        if isinstance(attribute, int | float) and math.isfinite(attribute) and attribute >= 0:
            hint = float(attribute)
    return hint


def backoff_delay(
    retry_index: int,
    *,
    initial: float,
    maximum: float,
    multiplier: float = 2.0,
    jitter: float = 1.0,
    u: float = 1.0,
) -> float:
    """Exponential backoff with a cap and jitter (AWS "full jitter" when ``jitter`` is 1).

    The ceiling for the ``retry_index``-th retry (0-based) is
    ``min(maximum, initial * multiplier**retry_index)``; the delay is
    ``ceiling * (1 - jitter * u)`` for a uniform draw ``u`` in [0, 1): ``jitter=1`` spreads it
    over (0, ceiling], ``jitter=0`` is plain exponential backoff.
    """
    exponent = min(retry_index, 1000)  # keep pow finite
    ceiling = min(maximum, initial * multiplier**exponent)
    return max(0.0, ceiling * (1.0 - jitter * u))


def retry_delay(
    error: TargetError,
    retry_index: int,
    *,
    now: float,
    initial: float,
    maximum: float,
    multiplier: float,
    jitter: float,
    max_retry_after: float,
    u: float,
) -> float:
    """Seconds to wait before retrying after ``error``.

    A server hint (``Retry-After`` in any form) wins, capped at ``max_retry_after``; waiting
    less would only earn another 429. Without one, ``backoff_delay``.
    """
    hint = retry_after_hint(error, now)
    if hint is not None:
        return min(hint, max_retry_after)
    return backoff_delay(
        retry_index, initial=initial, maximum=maximum, multiplier=multiplier, jitter=jitter, u=u
    )
