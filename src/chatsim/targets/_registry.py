"""Model specs and the adapter registry.

A model spec names an adapter and a model: ``gpt-4o`` (= ``openai:gpt-4o``), ``azure:<deployment>``,
``vllm:<model>``, ``anthropic:<model>``, ``gemini:<model>``. Adapters register lazy factories
under the ``chatsim.targets`` entry-point group, so the core imports an adapter (and its SDK)
only when a run names it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TypeVar

from chatsim._exceptions import ConfigError, UnknownNameError
from chatsim.targets._contract import TargetAdapter

__all__ = [
    "ENTRY_POINT_GROUP",
    "HOSTED_ADAPTERS",
    "AdapterFactory",
    "ModelSpec",
    "TargetSettings",
    "adapter_environment",
    "available_adapters",
    "create_adapter",
    "endpoint_for",
    "env_setting",
    "parse_model_spec",
    "reads_environment",
    "register_adapter",
    "unregister_adapter",
]

ENTRY_POINT_GROUP = "chatsim.targets"
DEFAULT_ADAPTER = "openai"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A parsed model spec."""

    adapter: str
    """Entry-point name of the adapter (``openai``, ``azure``, ``vllm``, ...)."""
    model: str
    """Model (or Azure deployment) name as the provider knows it."""
    label: str
    """The spec as the user wrote it; used as the model's name in records and reports."""


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """Connection settings. Explicit values win over environment variables, which win over
    defaults; adapters resolve the environment at construction and fail naming the variable."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_version: str | None = None
    default_headers: dict[str, str] = field(default_factory=dict, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    """Adapter-specific options (for example ``transport``)."""


def env_setting(explicit: str | None, *variables: str) -> str | None:
    """A setting by the precedence adapters follow: the explicit value, else the first of
    ``variables`` set (and non-empty) in the environment, else None."""
    if explicit:
        return explicit
    for name in variables:
        value = os.environ.get(name)
        if value:
            return value
    return None


_ENVIRONMENT = "chatsim_environment"
_Factory = TypeVar("_Factory", bound=Callable[..., Any])


def reads_environment(*names: str) -> Callable[[_Factory], _Factory]:
    """Declare, on an adapter factory, the environment variables it reads (keys, endpoints,
    versions): a run on a remote Ray cluster hands exactly these to its workers."""

    def declare(factory: _Factory) -> _Factory:
        setattr(factory, _ENVIRONMENT, names)
        return factory

    return declare


def adapter_environment(name: str) -> tuple[str, ...]:
    """The variables adapter ``name`` declared with ``reads_environment`` (none if it did not)."""
    return tuple(getattr(_load_factory(name), _ENVIRONMENT, ()))


#: Adapters of hosted providers: their endpoint comes from their own settings (``OPENAI_BASE_URL``,
#: ``AZURE_OPENAI_ENDPOINT``, ``ANTHROPIC_BASE_URL``, ``ANTHROPIC_BEDROCK_MANTLE_BASE_URL``,
#: ``GOOGLE_GEMINI_BASE_URL``, ``GOOGLE_VERTEX_BASE_URL``), never from a
#: run's generic ``--base-url``, which addresses self-hosted OpenAI-compatible servers.
#: Otherwise a run mixing ``gpt-4o`` with a ``vllm:`` model would send the OpenAI key to the
#: vLLM host. ``litellm`` too: litellm sends each provider's own key (``OPENAI_API_KEY``, ...)
#: to whatever endpoint it is given, so its endpoints come from the providers' variables.
HOSTED_ADAPTERS = frozenset(
    {"openai", "azure", "anthropic", "bedrock", "gemini", "vertex", "litellm"}
)


def endpoint_for(spec: ModelSpec, generic_base_url: str | None) -> str | None:
    """The run's generic base URL where it applies to ``spec``, else None."""
    return None if spec.adapter in HOSTED_ADAPTERS else generic_base_url


AdapterFactory = Callable[[str, TargetSettings], TargetAdapter]
"""``factory(model, settings) -> adapter``; an entry point loads to one of these."""

_overrides: dict[str, AdapterFactory] = {}


def register_adapter(name: str, factory: AdapterFactory) -> AdapterFactory | None:
    """Register an adapter in-process (tests, notebooks); entry points need no call.

    It wins over an installed adapter of the same name. Returns the in-process factory it
    replaced, if any, so that a caller can put it back.
    """
    previous = _overrides.get(name)
    _overrides[name] = factory
    return previous


def unregister_adapter(name: str) -> AdapterFactory | None:
    """Undo ``register_adapter``: remove ``name``'s in-process factory and return it.

    An installed (entry-point) adapter of that name is visible again afterwards. A name with
    no in-process registration is ignored (returns None), so clean-up code can always call it.
    """
    return _overrides.pop(name, None)


def available_adapters() -> list[str]:
    """Names of every installed adapter, sorted."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names | set(_overrides))


def parse_model_spec(spec: str) -> ModelSpec:
    """Split ``adapter:model``; a bare name is an OpenAI model.

    OpenAI fine-tune names (``ft:gpt-4o-mini:org::id``) are OpenAI models. Any other unknown
    prefix is an error listing the installed adapters, rather than a silent OpenAI request.
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty model spec; use e.g. gpt-4o, azure:<deployment> or vllm:<model>")
    prefix, sep, rest = spec.partition(":")
    if not sep:
        return ModelSpec(DEFAULT_ADAPTER, spec, spec)
    if prefix == "ft":
        return ModelSpec(DEFAULT_ADAPTER, spec, spec)
    known = available_adapters()
    if prefix not in known:
        raise UnknownNameError("adapter", prefix, known)
    if not rest:
        raise ConfigError(f"model spec {spec!r} names no model after {prefix!r}:")
    return ModelSpec(prefix, rest, spec)


def _load_factory(name: str) -> AdapterFactory:
    if name in _overrides:
        return _overrides[name]
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        factory: AdapterFactory = ep.load()
        return factory
    raise UnknownNameError("adapter", name, available_adapters())


def create_adapter(spec: ModelSpec | str, settings: TargetSettings | None = None) -> TargetAdapter:
    """Build the adapter for ``spec``. Raises ``ConfigError`` for missing credentials."""
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    factory = _load_factory(parsed.adapter)
    return factory(parsed.model, settings or TargetSettings())
