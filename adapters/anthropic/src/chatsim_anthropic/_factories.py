"""The ``anthropic`` entry point of ``chatsim.targets``: how the adapter builds its client.

chatsim loads this module (and so the SDK) only when a run names ``anthropic:<model>``.

Precedence: explicit setting > environment variable > default. A missing key fails here, at
construction, naming the variable, before anything is sent. SDK retries are off
(``max_retries=0``): the core retries, once, for every adapter.

==========================  ====================================================
setting                     source
==========================  ====================================================
API key (required)          ``api_key`` / ANTHROPIC_API_KEY
endpoint                    ``base_url`` / ANTHROPIC_BASE_URL / the SDK's default
                            (never a run's generic ``--base-url``: ``anthropic`` is
                            one of ``chatsim.targets.HOSTED_ADAPTERS``)
default ``max_tokens``      ``options["max_tokens"]`` / 1024 (``DEFAULT_MAX_TOKENS``)
timeout                     ``options["timeout"]`` seconds / the SDK's default
==========================  ====================================================
"""

from __future__ import annotations

from typing import Any

import anthropic

from chatsim import ConfigError, MissingCredentialError
from chatsim.targets import TargetSettings, env_setting, register_secret_headers
from chatsim.targets.kit import register_secret, require_http_url
from chatsim_anthropic._adapter import DEFAULT_MAX_TOKENS, AnthropicAdapter

__all__ = ["anthropic_adapter"]


def anthropic_adapter(model: str, settings: TargetSettings) -> AnthropicAdapter:
    """``anthropic:<model>``: the Messages API at api.anthropic.com or ``ANTHROPIC_BASE_URL``."""
    api_key = env_setting(settings.api_key, "ANTHROPIC_API_KEY")
    if api_key is None:
        raise MissingCredentialError("ANTHROPIC_API_KEY", "the anthropic adapter needs an API key")
    register_secret(api_key)
    register_secret_headers(settings.default_headers)
    max_tokens = settings.options.get("max_tokens", DEFAULT_MAX_TOKENS)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ConfigError(f"options['max_tokens'] must be a positive integer, not {max_tokens!r}")
    base_url = env_setting(settings.base_url, "ANTHROPIC_BASE_URL")
    kwargs: dict[str, Any] = {"api_key": api_key, "max_retries": 0}
    if base_url:
        kwargs["base_url"] = require_http_url(base_url, "the Anthropic base URL").rstrip("/")
    if settings.default_headers:
        kwargs["default_headers"] = dict(settings.default_headers)
    timeout = settings.options.get("timeout")
    if timeout is not None:
        kwargs["timeout"] = float(timeout)
    client = anthropic.AsyncAnthropic(**kwargs)
    return AnthropicAdapter(model, client, default_max_tokens=max_tokens)
