"""The targets' budget (--rpm, --tpm, --concurrency) stays off the simulator's own endpoint
unless asked (``--policy simulator.<field>=...``); a shared deployment shares one budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatsim import ConfigError
from chatsim.config import RunConfig
from chatsim.runner._prepare import call_policy, prepare_run, simulator_call_policy

URL = "http://127.0.0.1:9/v1"
BUDGET = {"requests_per_minute": 60, "tokens_per_minute": 9000, "max_attempts": 3}


def _config(simulator: str = "scripted", **policy: Any) -> RunConfig:
    return RunConfig(
        models=("vllm:target",), source="college_math", limit=1, simulator=simulator,
        base_url=URL, concurrency=4, policy={**BUDGET, **policy},
    )  # fmt: skip


def test_the_simulator_keeps_retries_but_not_the_targets_budget() -> None:
    config = _config()
    target, simulator = call_policy(config), simulator_call_policy(config)
    assert (target.requests_per_minute, target.tokens_per_minute) == (60, 9000)
    assert target.max_concurrency == 4
    assert (simulator.requests_per_minute, simulator.tokens_per_minute) == (None, None)
    assert simulator.max_concurrency >= 8  # never below the episodes in flight (2 x 4)
    assert simulator.max_attempts == target.max_attempts == 3


def test_the_simulator_budget_is_asked_for_with_its_prefix() -> None:
    config = _config(**{"simulator.requests_per_minute": 600, "simulator.max_concurrency": 16})
    simulator = simulator_call_policy(config)
    assert (simulator.requests_per_minute, simulator.max_concurrency) == (600, 16)
    assert call_policy(config).requests_per_minute == 60  # the prefix is the simulator's only


def test_a_bad_simulator_field_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"simulator call policy .*unknown call policy field"):
        simulator_call_policy(_config(**{"simulator.rmp": 600}))


def test_a_prompted_simulator_on_another_deployment_has_its_own_budget(tmp_path: Path) -> None:
    setup = prepare_run(_config("prompted:vllm:user-model"), out_dir=tmp_path)
    caller = setup.simulator.caller  # type: ignore[attr-defined]
    assert caller is not setup.callers["vllm:target"]
    assert caller.policy.requests_per_minute is None
    assert caller.limits.has_buckets is False


def test_a_prompted_simulator_on_the_targets_deployment_shares_its_budget(tmp_path: Path) -> None:
    setup = prepare_run(_config("prompted:vllm:target"), out_dir=tmp_path)
    caller = setup.simulator.caller  # type: ignore[attr-defined]
    assert caller is setup.callers["vllm:target"]
    assert caller.policy.requests_per_minute == 60


def test_a_served_simulator_has_no_target_budget(tmp_path: Path) -> None:
    setup = prepare_run(_config("served:chatbench"), out_dir=tmp_path)
    assert setup.simulator.caller.policy.requests_per_minute is None  # type: ignore[attr-defined]
