"""CallerPool: one budget per (adapter, endpoint, model/deployment, credential)."""

from __future__ import annotations

import pytest

from chatsim.targets._policy import CallPolicy
from chatsim.targets._pool import CallerPool
from chatsim.targets._registry import ModelSpec, TargetSettings

from .fakes import ScriptedAdapter

pytestmark = pytest.mark.anyio


def _pool(**kw: object) -> tuple[CallerPool, list[tuple[ModelSpec, TargetSettings]]]:
    made: list[tuple[ModelSpec, TargetSettings]] = []

    def factory(spec: ModelSpec, settings: TargetSettings) -> ScriptedAdapter:
        made.append((spec, settings))
        return ScriptedAdapter()

    return CallerPool(factory=factory, **kw), made  # type: ignore[arg-type]


def test_specs_for_the_same_deployment_share_one_caller() -> None:
    pool, made = _pool()
    a = pool.get(ModelSpec("openai", "gpt-4o", "gpt-4o"))
    b = pool.get(ModelSpec("openai", "gpt-4o", "openai:gpt-4o"))
    assert a is b
    assert len(made) == 1 and len(pool) == 1


def test_azure_deployments_and_endpoints_are_separate_budgets() -> None:
    pool, _ = _pool()
    east = TargetSettings(base_url="https://east.openai.azure.com/")
    west = TargetSettings(base_url="https://west.openai.azure.com")
    d1 = pool.get(ModelSpec("azure", "dep-1", "azure:dep-1"), east)
    d1_again = pool.get(
        ModelSpec("azure", "dep-1", "azure:dep-1 (label 2)"),
        TargetSettings(base_url="https://east.openai.azure.com"),
    )
    d2 = pool.get(ModelSpec("azure", "dep-2", "azure:dep-2"), east)
    d1_west = pool.get(ModelSpec("azure", "dep-1", "azure:dep-1"), west)
    assert d1 is d1_again
    assert len({id(d1), id(d2), id(d1_west)}) == 3
    assert d1.concurrency is not d2.concurrency
    assert d1.limits is not d2.limits


def test_models_on_one_adapter_do_not_share() -> None:
    pool, _ = _pool()
    assert pool.get(ModelSpec("openai", "gpt-4o", "gpt-4o")) is not pool.get(
        ModelSpec("openai", "gpt-4o-mini", "gpt-4o-mini")
    )


def test_different_explicit_keys_are_different_budgets_and_never_shown() -> None:
    pool, _ = _pool()
    spec = ModelSpec("openai", "gpt-4o", "gpt-4o")
    one = TargetSettings(api_key="sk-org-one-aaaaaaaaaaaaaaaa")
    two = TargetSettings(api_key="sk-org-two-bbbbbbbbbbbbbbbb")
    assert pool.get(spec, one) is not pool.get(spec, two)
    assert pool.get(spec, one) is pool.get(spec, TargetSettings(api_key=one.api_key))
    for key, _caller in pool:
        assert "sk-org" not in repr(key)


def test_per_label_policy_and_default() -> None:
    special = CallPolicy(max_concurrency=3)
    pool, _ = _pool(policy=CallPolicy(max_concurrency=7), policies={"gpt-4o-mini": special})
    assert pool.get("gpt-4o").policy.max_concurrency == 7
    assert pool.get("gpt-4o-mini").policy is special


async def test_aclose_closes_every_adapter_once() -> None:
    pool, _ = _pool()
    callers = [pool.get("gpt-4o"), pool.get("gpt-4o-mini")]
    await pool.aclose()
    assert all(c.adapter.closed for c in callers)  # type: ignore[attr-defined]
    assert len(pool) == 0
