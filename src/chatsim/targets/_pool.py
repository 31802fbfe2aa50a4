"""``CallerPool``: one ``TargetCaller`` (one budget) per provider deployment.

Providers meter rate limits per model and, on Azure, per deployment. Two model specs that
reach the same deployment (``gpt-4o`` and ``openai:gpt-4o``; two labels for one Azure
deployment) must share one concurrency limit and one set of buckets, or together they exceed
the quota each respects alone; different models or deployments must not share, or one slow
model throttles the other. The key is ``(adapter, endpoint, model or deployment, key
fingerprint)``: the fingerprint (a short hash, never the key) separates two organisations'
quotas on the same endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from chatsim._util._clock import Clock
from chatsim.targets._caller import Sleep, TargetCaller
from chatsim.targets._contract import TargetAdapter
from chatsim.targets._policy import CallPolicy
from chatsim.targets._registry import ModelSpec, TargetSettings, create_adapter, parse_model_spec

__all__ = ["CallerKey", "CallerPool"]


class CallerKey(NamedTuple):
    """What identifies one provider budget."""

    adapter: str
    endpoint: str
    """The base URL without a trailing slash; "" for the adapter's default endpoint."""
    model: str
    """The model, or the Azure deployment."""
    credential: str
    """A short hash of an explicit API key ("" when the key comes from the environment)."""


class CallerPool:
    """Hands out one shared ``TargetCaller`` per ``CallerKey``, and closes them all.

    ``policy`` applies to every caller unless ``policies`` names the spec's label (or its
    ``adapter:model``); a caller's policy is fixed by the first spec that creates it.
    """

    def __init__(
        self,
        policy: CallPolicy | None = None,
        *,
        policies: Mapping[str, CallPolicy] | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        factory: Callable[[ModelSpec, TargetSettings], TargetAdapter] = create_adapter,
    ) -> None:
        self.policy = policy or CallPolicy()
        self._policies = dict(policies or {})
        self._clock = clock
        self._sleep = sleep
        self._factory = factory
        self._callers: dict[CallerKey, TargetCaller] = {}

    @staticmethod
    def key(spec: ModelSpec, settings: TargetSettings | None = None) -> CallerKey:
        """The budget ``spec`` (with ``settings``) draws on."""
        settings = settings or TargetSettings()
        endpoint = (settings.base_url or "").rstrip("/")
        credential = ""
        if settings.api_key:
            credential = hashlib.sha256(settings.api_key.encode()).hexdigest()[:12]
        return CallerKey(spec.adapter, endpoint, spec.model, credential)

    def get(
        self,
        spec: ModelSpec | str,
        settings: TargetSettings | None = None,
        *,
        policy: CallPolicy | None = None,
    ) -> TargetCaller:
        """The caller for ``spec``, creating its adapter the first time its key is seen.

        ``policy`` (a prompted simulator's own) applies only if this call creates the caller:
        a spec that reaches an existing caller's deployment shares its budget as it is.
        """
        parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
        settings = settings or TargetSettings()
        key = self.key(parsed, settings)
        caller = self._callers.get(key)
        if caller is None:
            policy = (
                policy
                or self._policies.get(parsed.label)
                or self._policies.get(f"{parsed.adapter}:{parsed.model}")
                or self.policy
            )
            caller = TargetCaller(
                self._factory(parsed, settings),
                policy,
                clock=self._clock,
                sleep=self._sleep,
                name=f"{parsed.adapter}:{parsed.model}",
            )
            self._callers[key] = caller
        return caller

    def __len__(self) -> int:
        return len(self._callers)

    def __iter__(self) -> Iterator[tuple[CallerKey, TargetCaller]]:
        return iter(list(self._callers.items()))

    async def aclose(self) -> None:
        """Close every caller's adapter once (also when one of them fails to close)."""
        callers, self._callers = list(self._callers.values()), {}
        errors: list[BaseException] = []
        for caller in callers:
            try:
                await caller.aclose()
            except Exception as exc:  # keep closing the others; re-raise the first below
                errors.append(exc)
        if errors:
            raise errors[0]
