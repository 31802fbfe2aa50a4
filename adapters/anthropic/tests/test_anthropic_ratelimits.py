"""``anthropic-ratelimit-*`` headers: sent by the loopback server, kept in the attempt records
(and nothing secret beside them), and fed back into the core's rate-limit buckets."""

from __future__ import annotations

import datetime as dt
import json
import time

import anthropic
import pytest
from anthropic_helpers import KEY, adapter_for, request

from chatsim import TargetError
from chatsim.targets import CallPolicy, TargetCaller
from chatsim.testing import AnthropicLoopbackServer, RateLimits

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]  # 5 prompt tokens (words)
PREFIX = "anthropic-ratelimit-"


def _reset_in(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp() - time.time()


async def test_the_server_reports_the_window_in_anthropics_names() -> None:
    limits = RateLimits(requests_per_minute=50, tokens_per_minute=1000)
    async with AnthropicLoopbackServer("four", rate_limits=limits) as server:
        sdk = anthropic.AsyncAnthropic(base_url=server.base_url, api_key=KEY, max_retries=0)
        for _ in range(2):
            raw = await sdk.messages.with_raw_response.create(
                model="claude-test", max_tokens=8, messages=MESSAGES
            )
        await sdk.close()
    headers = {k: v for k, v in raw.headers.items() if k.startswith(PREFIX)}
    assert {k: v for k, v in headers.items() if not k.endswith("-reset")} == {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "48",
        "anthropic-ratelimit-tokens-limit": "1000",
        "anthropic-ratelimit-tokens-remaining": "990",  # two requests of 5 prompt tokens
        "anthropic-ratelimit-input-tokens-limit": "1000",
        "anthropic-ratelimit-input-tokens-remaining": "990",
    }
    resets = {v for k, v in headers.items() if k.endswith("-reset")}
    (reset,) = resets  # one window for every kind
    assert reset.endswith("Z") and 0 < _reset_in(reset) <= 61  # RFC 3339, within the minute


async def test_a_spent_limit_is_a_429_rate_limit_error_with_retry_after() -> None:
    limits = RateLimits(requests_per_minute=1, enforce=True)
    async with AnthropicLoopbackServer("four", rate_limits=limits) as server:
        sdk = anthropic.AsyncAnthropic(base_url=server.base_url, api_key=KEY, max_retries=0)
        await sdk.messages.create(model="claude-test", max_tokens=8, messages=MESSAGES)
        with pytest.raises(anthropic.RateLimitError) as info:
            await sdk.messages.create(model="claude-test", max_tokens=8, messages=MESSAGES)
        await sdk.close()
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "rate_limit_error"
    headers = info.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"


def _caller(server: AnthropicLoopbackServer, policy: CallPolicy) -> TargetCaller:
    return TargetCaller(adapter_for(server), policy, sleep=_no_sleep)


async def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"nothing here should wait ({seconds}s)")


async def test_the_headers_land_in_the_attempt_records_and_no_secret_does() -> None:
    limits = RateLimits(requests_per_minute=50, tokens_per_minute=10_000)
    extra = {"x-api-key": KEY, "set-cookie": f"session={KEY}", "x-internal": "no"}
    async with AnthropicLoopbackServer(
        "four", api_key=KEY, rate_limits=limits, extra_headers=extra
    ) as server:
        caller = _caller(server, CallPolicy())
        try:
            reply = await caller.call(request())
        finally:
            await caller.aclose()
    (attempt,) = reply.attempts
    kept = attempt.rate_limit_headers
    assert kept["anthropic-ratelimit-requests-remaining"] == "49"
    assert kept["anthropic-ratelimit-tokens-limit"] == "10000"
    assert {k for k in kept if not k.startswith(PREFIX)} == {"request-id"}
    recorded = json.dumps([a.model_dump(mode="json") for a in reply.attempts])
    assert KEY not in recorded and "x-api-key" not in recorded and "cookie" not in recorded


async def test_a_refused_attempt_records_retry_after_and_the_spent_limit() -> None:
    limits = RateLimits(requests_per_minute=1, enforce=True)
    async with AnthropicLoopbackServer("four", rate_limits=limits) as server:
        caller = _caller(server, CallPolicy(max_attempts=1))
        try:
            await caller.call(request())
            with pytest.raises(TargetError) as info:
                await caller.call(request())
        finally:
            await caller.aclose()
    (attempt,) = info.value.attempts
    assert attempt.status_code == 429 and attempt.outcome == "rate_limit"
    assert attempt.rate_limit_headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert "retry-after" in attempt.rate_limit_headers


async def test_anthropics_remaining_and_reset_drain_the_core_buckets() -> None:
    """``requests-remaining: 0`` closes the requests bucket until the RFC 3339 reset."""
    limits = RateLimits(requests_per_minute=1, tokens_per_minute=10_000)
    async with AnthropicLoopbackServer("four", rate_limits=limits) as server:
        policy = CallPolicy(requests_per_minute=600, tokens_per_minute=1_000_000)
        caller = _caller(server, policy)
        try:
            await caller.call(request())
        finally:
            await caller.aclose()
    buckets = caller.limits
    assert buckets.requests is not None and buckets.tokens is not None
    closed_for = buckets.requests.not_before - time.time()
    assert 0 < closed_for <= 61  # until the server's window ends, not our own 600/min
    # The token bucket dropped from its own capacity to about what the server reported left
    # (10 000 less this prompt), give or take the refund of the estimate's unused reply.
    assert buckets.tokens.level < buckets.tokens.capacity / 2
