"""The ``litellm`` entry point of ``chatsim.targets``: ``litellm:<provider>/<model>``.

chatsim loads this module only when a run names a ``litellm:`` model, and litellm itself is
imported (offline: ``_sdk``) only when the factory runs.

Precedence: explicit setting > the provider's own environment variables > litellm's default.
litellm reads each provider's variables itself (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
``GROQ_API_KEY``, ...); a missing one fails here, at construction, naming the variables
litellm's ``validate_environment`` reports, before anything is sent.

==========================  ====================================================================
setting                     source
==========================  ====================================================================
provider and model          the spec: ``litellm:openai/gpt-4o``; the provider is required
API key                     ``api_key`` / the provider's variable, read by litellm
endpoint                    ``base_url`` / the provider's variable, read by litellm
                            (``OPENAI_BASE_URL``, ``ANTHROPIC_API_BASE``, ``GROQ_API_BASE``,
                            ``<PROVIDER>_API_BASE``); never a run's generic ``--base-url``:
                            ``litellm`` is one of ``chatsim.targets.HOSTED_ADAPTERS``, since
                            litellm would send the provider's key to that host
API version                 ``api_version`` (Azure through litellm) / litellm's default
timeout                     ``options["timeout"]`` seconds (the core's per-attempt timeout
                            applies on top)
extra headers               ``default_headers`` (values of secret-looking names registered)
==========================  ====================================================================
"""

from __future__ import annotations

import os
import re
from types import ModuleType
from typing import Final

from chatsim import ConfigError, MissingCredentialError
from chatsim.targets import TargetSettings, register_secret_headers
from chatsim.targets.kit import register_secret, require_http_url
from chatsim_litellm._adapter import LiteLLMAdapter
from chatsim_litellm._sdk import load

__all__ = ["litellm_adapter"]

#: Environment variables whose values litellm may send as credentials for some provider
#: (``*_API_KEY``, ``*_AUTH_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ...). litellm does not say
#: which one a provider's call will use, so every such value is registered for scrubbing.
_SECRET_VARIABLE: Final = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_ENDPOINT_NAMES: Final = ("_API_BASE", "_BASE_URL", "_ENDPOINT")


def _register_environment_secrets() -> None:
    for name, value in os.environ.items():
        if _SECRET_VARIABLE.search(name):
            register_secret(value)


def _provider_of(sdk: ModuleType, model: str, spec: str) -> str:
    """litellm's provider for ``model``; the spec must name it (``openai/gpt-4o``)."""
    prefix, sep, rest = model.partition("/")
    if not sep or not prefix or not rest:
        raise ConfigError(
            f"{spec!r}: name the provider, litellm:<provider>/<model> "
            "(e.g. litellm:openai/gpt-4o, litellm:anthropic/claude-sonnet-4-5)"
        )
    try:
        _, provider, _, _ = sdk.get_llm_provider(model=model)
    except Exception as exc:  # litellm raises its BadRequestError for an unknown provider
        raise ConfigError(f"{spec!r}: litellm does not know provider {prefix!r}") from exc
    return str(provider)


def litellm_adapter(model: str, settings: TargetSettings) -> LiteLLMAdapter:
    """``litellm:<provider>/<model>``, e.g. ``litellm:groq/llama-3.1-8b-instant``."""
    spec = f"litellm:{model}"
    sdk = load()
    _provider_of(sdk, model, spec)
    base_url = None
    if settings.base_url:
        base_url = require_http_url(settings.base_url, f"the endpoint of {spec}").rstrip("/")
    if settings.api_key:
        register_secret(settings.api_key)
    else:
        found = sdk.validate_environment(model=model, api_base=base_url).get("missing_keys")
        # An explicit endpoint stands for the provider's endpoint variable (OLLAMA_API_BASE).
        missing = [str(n) for n in found or () if not (base_url and n.endswith(_ENDPOINT_NAMES))]
        if missing:
            raise MissingCredentialError(" and ".join(missing), f"{spec} needs credentials")
    _register_environment_secrets()
    register_secret_headers(settings.default_headers)
    return LiteLLMAdapter(
        model,
        sdk,
        api_key=settings.api_key,
        api_base=base_url,
        api_version=settings.api_version,
        headers=settings.default_headers,
        timeout=_timeout(settings.options.get("timeout")),
    )


def _timeout(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"options['timeout'] must be a positive number of seconds, not {value!r}")
    return float(value)
