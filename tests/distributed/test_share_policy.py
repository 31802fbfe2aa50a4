"""Each Ray worker takes an even share of a target's budget, so together they keep to it."""

from __future__ import annotations

import pytest

from chatsim.distributed._worker import share_policy
from chatsim.targets import CallPolicy


def test_workers_split_the_budget_evenly() -> None:
    policy = CallPolicy(max_concurrency=32, requests_per_minute=600, tokens_per_minute=90_000)
    share = share_policy(policy, 4)
    assert share.max_concurrency == 8
    assert share.requests_per_minute == pytest.approx(150)
    assert share.tokens_per_minute == pytest.approx(22_500)
    assert share_policy(policy, 1) is policy


def test_a_share_never_drops_below_one_call_in_flight() -> None:
    share = share_policy(CallPolicy(max_concurrency=2, min_concurrency=2), 8)
    assert (share.max_concurrency, share.min_concurrency) == (1, 1)
    assert share.requests_per_minute is None and share.tokens_per_minute is None
