"""CallPolicy: documented defaults, validation, overrides with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chatsim import ConfigError
from chatsim.targets import _policy
from chatsim.targets._policy import CallPolicy


def test_defaults_are_the_named_constants() -> None:
    policy = CallPolicy()
    assert policy.max_attempts == _policy.DEFAULT_MAX_ATTEMPTS
    assert policy.attempt_timeout == _policy.DEFAULT_ATTEMPT_TIMEOUT
    assert policy.max_total_wait == _policy.DEFAULT_MAX_TOTAL_WAIT
    assert policy.backoff_initial == _policy.DEFAULT_BACKOFF_INITIAL
    assert policy.backoff_max == _policy.DEFAULT_BACKOFF_MAX
    assert policy.max_retry_after == _policy.DEFAULT_MAX_RETRY_AFTER
    assert policy.max_concurrency == _policy.DEFAULT_MAX_CONCURRENCY
    assert policy.requests_per_minute is None and policy.tokens_per_minute is None
    assert policy.adaptive is True


def test_every_field_is_documented() -> None:
    source = Path(_policy.__file__).read_text()
    for name in CallPolicy.model_fields:
        after = source.split(f"    {name}: ", 1)[1].splitlines()[1].strip()
        assert after.startswith('"""'), f"{name} has no docstring"


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        CallPolicy().max_attempts = 3  # type: ignore[misc]


def test_with_overrides_validates_and_names_bad_fields() -> None:
    policy = CallPolicy().with_overrides({"max_attempts": 2, "requests_per_minute": 500})
    assert (policy.max_attempts, policy.requests_per_minute) == (2, 500)
    with pytest.raises(ConfigError, match=r"unknown call policy field.*max_retries.*valid fields"):
        CallPolicy().with_overrides({"max_retries": 3})
    with pytest.raises(ConfigError, match="max_attempts"):
        CallPolicy().with_overrides({"max_attempts": 0})
    with pytest.raises(ConfigError, match="min_concurrency"):
        CallPolicy().with_overrides({"min_concurrency": 10, "max_concurrency": 5})


def test_policy_round_trips_through_json_for_the_run_header() -> None:
    policy = CallPolicy(tokens_per_minute=30_000, adaptive=False)
    assert CallPolicy.model_validate_json(policy.model_dump_json()) == policy
