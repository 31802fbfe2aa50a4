"""The pure retry functions: classification, Retry-After parsing, backoff."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsim import (
    AttemptTimeoutError,
    AuthenticationError,
    ConfigError,
    PermanentError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.targets._retry import (
    DeadlineExceededError,
    backoff_delay,
    classify,
    parse_retry_after,
    retry_after_hint,
    retry_delay,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RateLimitError("x"), "rate_limit"),
        (TransientError("x"), "transient"),
        (AttemptTimeoutError("x"), "timeout"),
        (DeadlineExceededError("x"), "timeout"),
        (PermanentError("x"), "permanent"),
        (AuthenticationError("x"), "auth"),
        (TargetError("x"), "permanent"),
        (ValueError("429 rate limit"), "permanent"),
        (ConfigError("x"), "permanent"),
    ],
)
def test_classify_by_class(error: BaseException, outcome: str) -> None:
    assert classify(error) == outcome


def test_classify_ignores_message_text() -> None:
    # A permanent error whose text mentions rate limits is still permanent.
    assert classify(PermanentError("429 Too Many Requests: rate limit")) == "permanent"
    assert classify(TransientError("401 unauthorized")) == "transient"


def test_classify_unknown_category_is_permanent() -> None:
    class Odd(TargetError):
        category = "mystery"

    assert classify(Odd("x")) == "permanent"


def test_deadline_error_is_a_timeout_and_a_target_error() -> None:
    error = DeadlineExceededError("late")
    assert isinstance(error, TimeoutError)
    assert isinstance(error, AttemptTimeoutError)
    assert error.category == "deadline"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "-5", "retry-after": "4"}, 4.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
        ({"x-ratelimit-reset-requests": "1s"}, None),
    ],
)
def test_parse_retry_after_seconds_and_ms(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected


def test_parse_retry_after_http_date() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, NOW) == pytest.approx(30.0)


def test_parse_retry_after_date_in_the_past_is_zero() -> None:
    date = email.utils.formatdate(NOW - 100, usegmt=True)
    assert parse_retry_after({"retry-after": date}, NOW) == 0.0


def test_parse_retry_after_bad_date_is_none() -> None:
    assert parse_retry_after({"retry-after": "Wed, 99 Foo 2015 07:28:00 GMT"}, NOW) is None


def test_retry_after_hint_prefers_headers_then_attribute() -> None:
    error = RateLimitError("x", retry_after=9.0, headers={"retry-after-ms": "100"})
    assert retry_after_hint(error, NOW) == pytest.approx(0.1)
    assert retry_after_hint(RateLimitError("x", retry_after=9.0), NOW) == 9.0
    assert retry_after_hint(RateLimitError("x", retry_after=float("nan")), NOW) is None
    assert retry_after_hint(TransientError("x", retry_after=2), NOW) == 2.0
    assert retry_after_hint(PermanentError("x"), NOW) is None


@pytest.mark.parametrize(
    ("index", "ceiling"), [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (5, 30.0), (50, 30.0)]
)
def test_backoff_ceiling_doubles_up_to_the_cap(index: int, ceiling: float) -> None:
    kw = {"initial": 1.0, "maximum": 30.0, "multiplier": 2.0, "jitter": 1.0}
    assert backoff_delay(index, u=0.0, **kw) == ceiling
    assert backoff_delay(index, u=0.5, **kw) == ceiling / 2
    assert (
        backoff_delay(index, jitter=0.0, u=0.99, **{k: v for k, v in kw.items() if k != "jitter"})
        == ceiling
    )


@given(
    index=st.integers(0, 5000),
    u=st.floats(0, 1, exclude_max=True),
    jitter=st.floats(0, 1),
    initial=st.floats(0, 10),
    maximum=st.floats(0, 100),
)
def test_backoff_always_within_bounds(
    index: int, u: float, jitter: float, initial: float, maximum: float
) -> None:
    delay = backoff_delay(index, initial=initial, maximum=maximum, jitter=jitter, u=u)
    assert 0.0 <= delay <= min(maximum, initial * 2.0 ** min(index, 1000)) + 1e-9


def test_retry_delay_uses_hint_capped_else_backoff() -> None:
    kw = {
        "now": NOW,
        "initial": 1.0,
        "maximum": 30.0,
        "multiplier": 2.0,
        "jitter": 1.0,
        "max_retry_after": 20.0,
        "u": 0.5,
    }
    assert retry_delay(RateLimitError("x", headers={"retry-after": "5"}), 3, **kw) == 5.0
    assert retry_delay(RateLimitError("x", headers={"retry-after": "500"}), 0, **kw) == 20.0
    assert retry_delay(TransientError("x"), 2, **kw) == 2.0  # ceiling 4, half jitter
