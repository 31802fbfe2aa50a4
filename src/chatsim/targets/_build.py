"""The one way to build a caller from a model spec, with the hosted-endpoint guard inside.

Every path that turns a spec into something that sends requests (a run's targets, a prompted
simulator, a load test's target, the judge) goes through ``build_caller``, so none can skip
the guard: a hosted provider (``HOSTED_ADAPTERS``: OpenAI, Azure OpenAI, Anthropic, Gemini)
keeps its own endpoint, and its key never travels to the host of a generic ``--base-url``
(which addresses self-hosted OpenAI-compatible servers). An endpoint given for the spec itself
(``--simulator-base-url``) on a hosted provider is refused, naming the provider's variable
(``OPENAI_BASE_URL``, ``AZURE_OPENAI_ENDPOINT``, ``ANTHROPIC_BASE_URL``,
``GOOGLE_GEMINI_BASE_URL``), the one way to move it (gateways, loopback test servers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatsim._exceptions import ConfigError
from chatsim._util._clock import Clock
from chatsim.targets._caller import Sleep, TargetCaller
from chatsim.targets._policy import CallPolicy
from chatsim.targets._pool import CallerPool
from chatsim.targets._registry import (
    HOSTED_ADAPTERS,
    ModelSpec,
    TargetSettings,
    create_adapter,
    parse_model_spec,
)

__all__ = ["build_caller", "target_settings"]

_PROVIDER_ENDPOINT = {
    "openai": "OPENAI_BASE_URL",
    "azure": "AZURE_OPENAI_ENDPOINT",
    "anthropic": "ANTHROPIC_BASE_URL",
    "bedrock": "ANTHROPIC_BEDROCK_MANTLE_BASE_URL",
    "gemini": "GOOGLE_GEMINI_BASE_URL",
    "vertex": "GOOGLE_VERTEX_BASE_URL",
    "litellm": "the provider's own variable (OPENAI_BASE_URL, ANTHROPIC_API_BASE, ...)",
}


def target_settings(
    spec: ModelSpec,
    *,
    base_url: str | None = None,
    endpoint: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> TargetSettings:
    """Connection settings for ``spec``.

    ``base_url`` is a generic endpoint (``--base-url``): used only by self-hosted adapters.
    ``endpoint`` was given for this spec (``--simulator-base-url``): a hosted provider refuses it.
    """
    url = endpoint or base_url
    if spec.adapter in HOSTED_ADAPTERS:
        if endpoint:
            variable = _PROVIDER_ENDPOINT.get(spec.adapter, "its own settings")
            raise ConfigError(
                f"{spec.label} is served by a hosted provider ({spec.adapter}), whose key must "
                f"not travel to {endpoint}: the endpoint option applies to self-hosted models "
                f"(vllm:<model>); to move {spec.adapter}'s endpoint, set {variable}"
            )
        url = None
    return TargetSettings(base_url=url, options=dict(options or {}))


def build_caller(
    spec: ModelSpec | str,
    *,
    base_url: str | None = None,
    endpoint: str | None = None,
    options: Mapping[str, Any] | None = None,
    policy: CallPolicy | None = None,
    pool: CallerPool | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    caller_type: type[TargetCaller] = TargetCaller,
    **caller_args: Any,
) -> TargetCaller:
    """A caller for ``spec``: from ``pool`` (one budget per deployment; the pool owns it), or
    a new ``caller_type`` with ``policy`` that the caller of this function owns and closes.

    Credentials are checked now (adapters fail at construction naming the variable), before
    anything is sent.
    """
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    settings = target_settings(parsed, base_url=base_url, endpoint=endpoint, options=options)
    if pool is not None:
        if caller_type is not TargetCaller or caller_args:
            raise TypeError("a pool's callers are plain TargetCallers")
        return pool.get(parsed, settings, policy=policy)  # policy: only for a new caller
    adapter = create_adapter(parsed, settings)
    return caller_type(
        adapter,
        policy or CallPolicy(),
        clock=clock,
        sleep=sleep,
        name=f"{parsed.adapter}:{parsed.model}",
        **caller_args,
    )
