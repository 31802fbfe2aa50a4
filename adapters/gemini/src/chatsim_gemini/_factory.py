"""The ``gemini`` entry point of ``chatsim.targets``: builds the SDK client once.

Precedence: explicit setting > environment variable > default. A missing key fails here, at
construction, naming the variables to set. SDK retries are off (``HttpRetryOptions(attempts=1)``,
also the SDK's default): the core retries, once, for every adapter.

=====================  ========================================================================
setting                source
=====================  ========================================================================
API key (required)     ``api_key`` / GOOGLE_API_KEY / GEMINI_API_KEY (the SDK's own order)
base URL               ``base_url`` / GOOGLE_GEMINI_BASE_URL / generativelanguage.googleapis.com
API version            ``api_version`` / ``v1beta`` (GOOGLE_GENAI_API_VERSION is not read)
timeout                ``options["timeout"]`` in seconds (the core's per-attempt timeout applies
                       on top)
extra headers          ``default_headers`` (values of secret-looking names are registered)
transport              ``options["transport"]``: ``fast`` (default: aiohttp and a small parser,
                       the SDK kept for headers, bodies with ``extra`` and errors) or ``sdk``
=====================  ========================================================================

On the ``sdk`` transport, HTTP goes through an ``httpx.AsyncClient`` the adapter owns
(``HttpOptions.httpx_async_client``).
This is the Gemini Developer API (an API key); Vertex AI is the ``vertex`` profile of the same
adapter (``_vertex``), sharing ``http_options``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatsim import MissingCredentialError
from chatsim.targets import (
    TargetSettings,
    env_setting,
    reads_environment,
    register_secret_headers,
)
from chatsim.targets.kit import register_secret, require_http_url
from chatsim_gemini._adapter import API_VERSION, DEFAULT_BASE_URL, DEFAULT_TRANSPORT, GeminiAdapter

if TYPE_CHECKING:  # the SDK and httpx load when an adapter is built, not on import
    import httpx
    from google.genai import types

__all__ = [
    "API_KEY_VARIABLES",
    "BASE_URL_VARIABLE",
    "create_gemini_adapter",
    "http_options",
    "transport_options",
]

#: Checked in this order, as google-genai itself does.
API_KEY_VARIABLES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
BASE_URL_VARIABLE = "GOOGLE_GEMINI_BASE_URL"


@reads_environment(*API_KEY_VARIABLES, BASE_URL_VARIABLE)
def create_gemini_adapter(model: str, settings: TargetSettings) -> GeminiAdapter:
    """``gemini:<model>``, e.g. ``gemini:gemini-2.5-flash``."""
    api_key = env_setting(settings.api_key, *API_KEY_VARIABLES)
    if api_key is None:
        raise MissingCredentialError(
            " or ".join(reversed(API_KEY_VARIABLES)), "the gemini adapter needs an API key"
        )
    register_secret(api_key)
    register_secret_headers(settings.default_headers)
    base_url = env_setting(settings.base_url, BASE_URL_VARIABLE) or DEFAULT_BASE_URL
    base_url = require_http_url(base_url, f"the Gemini base URL ({BASE_URL_VARIABLE})")

    from google import genai

    api_version = settings.api_version or API_VERSION
    options, http = http_options(settings, base_url, api_version)
    client = genai.Client(api_key=api_key, http_options=options)
    return GeminiAdapter(
        model, client, base_url=base_url, http=http, api_version=api_version,
        **transport_options(settings),
    )  # fmt: skip


def transport_options(settings: TargetSettings) -> dict[str, Any]:
    """``transport`` (``options["transport"]``: ``fast``, the default, or ``sdk``) and the
    ``timeout`` in seconds, as ``GeminiAdapter`` takes them."""
    timeout = settings.options.get("timeout")
    return {
        "transport": str(settings.options.get("transport", DEFAULT_TRANSPORT)),
        "timeout": None if timeout is None else float(timeout),
    }


def http_options(
    settings: TargetSettings, base_url: str, api_version: str
) -> tuple[types.HttpOptions, httpx.AsyncClient]:
    """The SDK's ``HttpOptions`` every profile shares, and the httpx client in them (the
    adapter owns and closes it): SDK retries off, the settings' headers and timeout."""
    import httpx
    from google.genai import types

    timeout = settings.options.get("timeout")
    seconds = None if timeout is None else float(timeout)
    # Our own httpx client: no connection cap (the core limits concurrency), no default 5 s
    # timeout; and not the SDK's aiohttp session, whose ClientSession subclass trips
    # aiohttp's DeprecationWarning on every new event loop.
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(seconds),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=1024),
        trust_env=True,
    )
    options = types.HttpOptions(
        base_url=base_url,
        api_version=api_version,
        retry_options=types.HttpRetryOptions(attempts=1),
        headers=dict(settings.default_headers) or None,
        timeout=None if seconds is None else int(seconds * 1000),  # milliseconds
        httpx_async_client=http,
    )
    return options, http
