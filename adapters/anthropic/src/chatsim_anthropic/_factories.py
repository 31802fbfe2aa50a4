"""The entry points of ``chatsim.targets``: how each profile of the adapter builds its client.

chatsim loads this module (and so the SDK) only when a run names ``anthropic:<model>`` or
``bedrock:<model>``. Both profiles drive one ``AnthropicAdapter`` (same request, timing,
usage, errors, request id); only the SDK client differs.

Precedence: explicit setting > environment variable > default. A missing credential fails
here, at construction, naming the variable, before anything is sent. SDK retries are off
(``max_retries=0``): the core retries, once, for every adapter.

=============  =============================  ==============================================
profile        client                         settings / environment
=============  =============================  ==============================================
``anthropic``  ``AsyncAnthropic``             ``api_key`` / ANTHROPIC_API_KEY (required),
                                              ``base_url`` / ANTHROPIC_BASE_URL
``bedrock``    ``AsyncAnthropicBedrockMantle``  ``api_key`` / AWS_BEARER_TOKEN_BEDROCK /
               (Bedrock's Anthropic-native    ANTHROPIC_AWS_API_KEY (a Bedrock API key,
               endpoint, Bearer key, SSE)     required), ``options["region"]`` / AWS_REGION /
                                              AWS_DEFAULT_REGION (required unless a base
                                              URL is set), ``base_url`` /
                                              ANTHROPIC_BEDROCK_MANTLE_BASE_URL
=============  =============================  ==============================================

Both: ``options["max_tokens"]`` / 1024 (``DEFAULT_MAX_TOKENS``), ``options["timeout"]``
seconds / the SDK's default, ``options["transport"]`` ``fast`` (default) / ``sdk``.
Neither endpoint is ever a run's generic ``--base-url``: both are
``chatsim.targets.HOSTED_ADAPTERS``.

``bedrock`` takes a Bedrock API key only. IAM credentials (access keys, profiles, roles) need
SigV4 signing, which the SDK does through ``boto3`` / ``botocore``, and those are not in
chatsim's base install; the key is always passed explicitly, so the SDK never falls back to
its default credential chain (which would import ``boto3`` at the first request).
"""

from __future__ import annotations

from typing import Any

import anthropic

from chatsim import ConfigError, MissingCredentialError
from chatsim.targets import (
    TargetSettings,
    env_setting,
    reads_environment,
    register_secret_headers,
)
from chatsim.targets.kit import register_secret, require_http_url
from chatsim_anthropic._adapter import DEFAULT_MAX_TOKENS, DEFAULT_TRANSPORT, AnthropicAdapter

__all__ = ["BEDROCK_KEY_VARIABLES", "anthropic_adapter", "bedrock_adapter"]

#: Where the ``bedrock`` profile reads its Bedrock API key, in the SDK's own order.
BEDROCK_KEY_VARIABLES = ("AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_AWS_API_KEY")
_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
_NO_SIGV4 = (
    "IAM credentials (SigV4 signing) are not supported: the anthropic SDK signs through "
    "boto3/botocore, which chatsim's base install does not carry; create a Bedrock API key"
)


def _max_tokens(settings: TargetSettings) -> int:
    max_tokens = settings.options.get("max_tokens", DEFAULT_MAX_TOKENS)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ConfigError(f"options['max_tokens'] must be a positive integer, not {max_tokens!r}")
    return max_tokens


def _common(settings: TargetSettings) -> dict[str, Any]:
    """Client arguments both profiles share; registers secret-looking header values."""
    register_secret_headers(settings.default_headers)
    kwargs: dict[str, Any] = {"max_retries": 0}
    if settings.default_headers:
        kwargs["default_headers"] = dict(settings.default_headers)
    timeout = settings.options.get("timeout")
    if timeout is not None:
        kwargs["timeout"] = float(timeout)
    return kwargs


@reads_environment("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
def anthropic_adapter(model: str, settings: TargetSettings) -> AnthropicAdapter:
    """``anthropic:<model>``: the Messages API at api.anthropic.com or ``ANTHROPIC_BASE_URL``."""
    api_key = env_setting(settings.api_key, "ANTHROPIC_API_KEY")
    if api_key is None:
        raise MissingCredentialError("ANTHROPIC_API_KEY", "the anthropic adapter needs an API key")
    register_secret(api_key)
    max_tokens = _max_tokens(settings)
    kwargs = {"api_key": api_key, **_common(settings)}
    base_url = env_setting(settings.base_url, "ANTHROPIC_BASE_URL")
    if base_url:
        kwargs["base_url"] = require_http_url(base_url, "the Anthropic base URL").rstrip("/")
    client = anthropic.AsyncAnthropic(**kwargs)
    return AnthropicAdapter(
        model, client, default_max_tokens=max_tokens, transport=_transport(settings)
    )


@reads_environment(*BEDROCK_KEY_VARIABLES, *_REGION_VARIABLES, "ANTHROPIC_BEDROCK_MANTLE_BASE_URL")
def bedrock_adapter(model: str, settings: TargetSettings) -> AnthropicAdapter:
    """``bedrock:<model>``: Claude on Amazon Bedrock, through its Anthropic-native (Mantle)
    endpoint ``https://bedrock-mantle.{region}.api.aws/anthropic`` with a Bedrock API key;
    the model is Mantle's id, sent as given (``anthropic.claude-opus-4-7``, say)."""
    api_key = env_setting(settings.api_key, *BEDROCK_KEY_VARIABLES)
    if api_key is None:
        raise MissingCredentialError(
            BEDROCK_KEY_VARIABLES[0],
            f"the bedrock adapter needs a Bedrock API key ({' or '.join(BEDROCK_KEY_VARIABLES)}); "
            + _NO_SIGV4,
        )
    register_secret(api_key)
    max_tokens = _max_tokens(settings)
    base_url = env_setting(settings.base_url, "ANTHROPIC_BEDROCK_MANTLE_BASE_URL")
    region = env_setting(_option(settings, "region"), *_REGION_VARIABLES)
    if base_url is None and region is None:
        raise MissingCredentialError(
            _REGION_VARIABLES[0],
            "the bedrock adapter needs the AWS region of the endpoint (AWS_REGION or "
            "AWS_DEFAULT_REGION, e.g. us-east-1; or ANTHROPIC_BEDROCK_MANTLE_BASE_URL)",
        )
    kwargs = {"api_key": api_key, "aws_region": region, **_common(settings)}
    if base_url:
        what = "ANTHROPIC_BEDROCK_MANTLE_BASE_URL"
        kwargs["base_url"] = require_http_url(base_url, what).rstrip("/")
    client = anthropic.AsyncAnthropicBedrockMantle(**kwargs)
    return AnthropicAdapter(
        model, client, default_max_tokens=max_tokens, name="bedrock", transport=_transport(settings)
    )


def _option(settings: TargetSettings, name: str) -> str | None:
    value = settings.options.get(name)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"options[{name!r}] must be a string, not {value!r}")
    return value


def _transport(settings: TargetSettings) -> str:
    """``options["transport"]``: ``fast`` (the default) or ``sdk``; checked by the adapter."""
    return _option(settings, "transport") or DEFAULT_TRANSPORT
