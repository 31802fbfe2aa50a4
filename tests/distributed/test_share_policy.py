"""Each Ray worker takes its share of a target's budget, so that together they keep to it:
rpm and tpm split evenly, call slots split so that they add up to the budget exactly; and no
more workers start than the smallest concurrency budget has slots for."""

from __future__ import annotations

from typing import Any

import pytest

from chatsim.config import RunConfig
from chatsim.distributed._budgets import (
    concurrency_share,
    share_policy,
    shared_budgets,
    worker_count,
)
from chatsim.targets import CallPolicy


def test_workers_split_the_budget_evenly() -> None:
    policy = CallPolicy(max_concurrency=32, requests_per_minute=600, tokens_per_minute=90_000)
    share = share_policy(policy, 4)
    assert share.max_concurrency == 8
    assert share.requests_per_minute == pytest.approx(150)
    assert share.tokens_per_minute == pytest.approx(22_500)
    assert share_policy(policy, 1) is policy


def test_call_slots_add_up_to_the_budget_exactly() -> None:
    policy = CallPolicy(max_concurrency=32)
    shares = [share_policy(policy, 12, rank=rank).max_concurrency for rank in range(12)]
    assert shares == [3] * 8 + [2] * 4  # an even split would give 12 x 2 = 24 of 32
    for budget in range(1, 70):
        for workers in range(1, budget + 1):
            assert sum(concurrency_share(budget, workers, r) for r in range(workers)) == budget


def test_no_share_shrinks_when_a_worker_leaves() -> None:
    # The others re-share one exchange at a time: with no share shrinking, the old shares and
    # the new never add up to more than the budget in between.
    for budget in range(1, 40):
        for workers in range(2, budget + 1):
            for leaving in range(workers):
                staying = [r for r in range(workers) if r != leaving]
                for new_rank, old_rank in enumerate(staying):
                    old = concurrency_share(budget, workers, old_rank)
                    assert concurrency_share(budget, workers - 1, new_rank) >= old


def test_a_share_never_drops_below_one_call_in_flight() -> None:
    share = share_policy(CallPolicy(max_concurrency=2, min_concurrency=2), 8)
    assert (share.max_concurrency, share.min_concurrency) == (1, 1)
    assert share.requests_per_minute is None and share.tokens_per_minute is None


def test_no_more_workers_than_the_smallest_concurrency_budget() -> None:
    assert worker_count(16, [32, 8]) == 8  # each of 8 workers gets one of the 8 slots
    assert worker_count(4, [32, 8]) == 4
    assert worker_count(16, []) == 16
    assert worker_count(0, [4]) == 1


def test_the_users_other_budgets_bound_the_workers_too() -> None:
    # Each worker takes at least one of the simulator's slots and one episode in flight:
    # the driver should start no more workers than these allow (``worker_count``).
    def config(**fields: Any) -> RunConfig:
        fields.setdefault("simulator", "served:user")
        fields.setdefault("simulator_base_url", "http://127.0.0.1:8/v1")
        return RunConfig(models=["vllm:a"], base_url="http://127.0.0.1:9/v1", **fields)

    assert shared_budgets(config()) == []
    # A simulator with no endpoint of its own has no such slots to share.
    scripted = config(simulator="scripted", policy={"simulator.max_concurrency": 3})
    assert shared_budgets(scripted) == []
    both = config(policy={"simulator.max_concurrency": 3}, max_episodes_in_flight=5)
    assert shared_budgets(both) == [3, 5]
    assert worker_count(8, [16, *shared_budgets(both)]) == 3
