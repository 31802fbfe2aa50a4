"""``anthropic-ratelimit-*`` headers feed the same buckets as OpenAI's (on a fake clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from chatsim.targets._limits import RateLimits, parse_reset
from chatsim.targets._policy import CallPolicy
from chatsim.testing import FakeClock

from .fakes import START

pytestmark = pytest.mark.anyio


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (_rfc3339(START + 30), 30.0),
        (_rfc3339(START - 5), 0.0),  # already past: no wait
        ("2023-11-14T22:13:50+00:00", 30.0),  # START + 30 with an explicit offset
        ("2023-11-14T22:13:50", None),  # no zone: ambiguous
        ("2023-11-14", None),  # a date says too little
        ("tomorrow", None),
    ],
)
def test_parse_reset_reads_rfc3339_times_against_now(value: str, seconds: float | None) -> None:
    assert parse_reset(value, START) == (pytest.approx(seconds) if seconds is not None else None)


def test_without_now_a_time_is_not_a_duration() -> None:
    assert parse_reset(_rfc3339(START + 30)) is None


def _limits(time: FakeClock, **policy: object) -> RateLimits:
    return RateLimits(CallPolicy(**policy), time, time.sleep)  # type: ignore[arg-type]


async def test_anthropic_remaining_and_reset_drain_the_buckets() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=600, tokens_per_minute=60_000)
    limits.observe_headers(
        {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": _rfc3339(time.now() + 2),
            "anthropic-ratelimit-tokens-remaining": "10",
            "anthropic-ratelimit-tokens-reset": _rfc3339(time.now() + 1),
        },
        time.now(),
    )
    assert limits.requests is not None and limits.tokens is not None
    assert limits.tokens.level == 10.0
    assert await limits.acquire(5, None) == pytest.approx(2.0)  # closed until the reset


async def test_openai_names_win_where_both_are_present_and_bad_values_are_ignored() -> None:
    time = FakeClock()
    limits = _limits(time, requests_per_minute=600)
    limits.observe_headers(
        {"x-ratelimit-remaining-requests": "7", "anthropic-ratelimit-requests-remaining": "3"},
        time.now(),
    )
    assert limits.requests is not None and limits.requests.level == 7.0
    limits.observe_headers({"anthropic-ratelimit-requests-remaining": "lots"}, time.now())
    assert limits.requests.level == 7.0
    limits = _limits(time, requests_per_minute=600, use_rate_limit_headers=False)
    limits.observe_headers({"anthropic-ratelimit-requests-remaining": "0"}, time.now())
    assert await limits.acquire(0, None) == 0.0
