"""Profiles: how each target builds its SDK client. The entry points of ``chatsim.targets``.

Precedence everywhere: explicit setting > environment variable > default. A missing
credential fails here, at construction, naming the variable to set. SDK retries are off
(``max_retries=0``): the core retries, once, for every adapter.

============  ==================================  =========================================
profile       client                              settings / environment
============  ==================================  =========================================
``openai``    ``AsyncOpenAI``                     ``api_key`` / OPENAI_API_KEY (required),
                                                  ``base_url`` / OPENAI_BASE_URL,
                                                  ``options["organization"]`` / OPENAI_ORG_ID,
                                                  ``options["project"]`` / OPENAI_PROJECT_ID
``azure``     ``AsyncAzureOpenAI``; the model     ``base_url`` / AZURE_OPENAI_ENDPOINT,
              is the deployment                   ``api_key`` / AZURE_OPENAI_API_KEY (or
                                                  AZURE_OPENAI_AD_TOKEN), ``api_version`` /
                                                  OPENAI_API_VERSION / AZURE_OPENAI_API_VERSION
``vllm``      ``AsyncOpenAI`` on any              ``base_url`` / CHATSIM_VLLM_BASE_URL /
              OpenAI-compatible server            OPENAI_BASE_URL (required), ``api_key`` /
                                                  VLLM_API_KEY (default ``EMPTY``)
============  ==================================  =========================================

``options["transport"]`` picks ``fast`` (default) or ``sdk``; ``options["timeout"]`` sets the
SDK client's timeout in seconds (the core's per-attempt timeout applies on top).
"""

from __future__ import annotations

from typing import Any

from chatsim import MissingCredentialError
from chatsim.targets import (
    TargetSettings,
    env_setting,
    reads_environment,
    register_secret_headers,
)
from chatsim.targets.kit import register_secret, require_http_url
from chatsim_openai._adapter import DEFAULT_TRANSPORT, OpenAIAdapter

__all__ = ["azure_adapter", "openai_adapter", "vllm_adapter"]


def _common(settings: TargetSettings) -> dict[str, Any]:
    """Client arguments every profile shares; registers secret-looking header values."""
    register_secret_headers(settings.default_headers)
    kwargs: dict[str, Any] = {"max_retries": 0}
    if settings.default_headers:
        kwargs["default_headers"] = dict(settings.default_headers)
    timeout = settings.options.get("timeout")
    if timeout is not None:
        kwargs["timeout"] = float(timeout)
    return kwargs


def _adapter(name: str, model: str, client: Any, settings: TargetSettings) -> OpenAIAdapter:
    transport = str(settings.options.get("transport", DEFAULT_TRANSPORT))
    return OpenAIAdapter(model, client, name=name, transport=transport)


@reads_environment("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
def openai_adapter(model: str, settings: TargetSettings) -> OpenAIAdapter:
    """``openai:<model>`` (and bare model names): api.openai.com or ``OPENAI_BASE_URL``."""
    import openai

    api_key = env_setting(settings.api_key, "OPENAI_API_KEY")
    if api_key is None:
        raise MissingCredentialError("OPENAI_API_KEY", "the openai adapter needs an API key")
    register_secret(api_key)
    base_url = env_setting(settings.base_url, "OPENAI_BASE_URL")
    client = openai.AsyncOpenAI(
        api_key=api_key,
        base_url=require_http_url(base_url, "the OpenAI base URL") if base_url else None,
        organization=env_setting(settings.options.get("organization"), "OPENAI_ORG_ID"),
        project=env_setting(settings.options.get("project"), "OPENAI_PROJECT_ID"),
        **_common(settings),
    )
    return _adapter("openai", model, client, settings)


@reads_environment(
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_API_VERSION",
)
def azure_adapter(model: str, settings: TargetSettings) -> OpenAIAdapter:
    """``azure:<deployment>``: Azure OpenAI; the model names the deployment."""
    import openai

    endpoint = env_setting(settings.base_url, "AZURE_OPENAI_ENDPOINT")
    if endpoint is None:
        raise MissingCredentialError(
            "AZURE_OPENAI_ENDPOINT", "the azure adapter needs the resource endpoint"
        )
    api_key = env_setting(settings.api_key, "AZURE_OPENAI_API_KEY")
    ad_token = None if api_key else env_setting(None, "AZURE_OPENAI_AD_TOKEN")
    if api_key is None and ad_token is None:
        raise MissingCredentialError("AZURE_OPENAI_API_KEY", "the azure adapter needs an API key")
    versions = ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION")
    api_version = env_setting(settings.api_version, *versions)
    if api_version is None:
        raise MissingCredentialError(
            "OPENAI_API_VERSION",
            "the azure adapter needs an API version such as 2024-10-21 "
            "(OPENAI_API_VERSION or AZURE_OPENAI_API_VERSION)",
        )
    register_secret(api_key)
    register_secret(ad_token)
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=require_http_url(endpoint, "AZURE_OPENAI_ENDPOINT"),
        api_key=api_key,
        azure_ad_token=ad_token,
        api_version=api_version,
        **_common(settings),
    )
    return _adapter("azure", model, client, settings)


@reads_environment("CHATSIM_VLLM_BASE_URL", "OPENAI_BASE_URL", "VLLM_API_KEY")
def vllm_adapter(model: str, settings: TargetSettings) -> OpenAIAdapter:
    """``vllm:<model>``: any OpenAI-compatible server at a base URL; the key is optional."""
    import openai

    base_url = env_setting(settings.base_url, "CHATSIM_VLLM_BASE_URL", "OPENAI_BASE_URL")
    if base_url is None:
        raise MissingCredentialError(
            "CHATSIM_VLLM_BASE_URL",
            "the vllm adapter needs the server's base URL (--base-url, e.g. http://127.0.0.1:8000/v1)",
        )
    base_url = require_http_url(base_url, "the vllm base URL (--base-url)")
    api_key = env_setting(settings.api_key, "VLLM_API_KEY") or "EMPTY"
    register_secret(api_key)
    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, **_common(settings))
    return _adapter("vllm", model, client, settings)
