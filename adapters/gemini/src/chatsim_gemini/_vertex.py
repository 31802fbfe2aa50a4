"""The ``vertex`` entry point of ``chatsim.targets``: Gemini on Vertex AI, a profile of the
Gemini adapter (same adapter class, same SDK, a differently built client).

Precedence: explicit setting > environment variable > default, with the variables and
defaults google-genai itself reads; everything is resolved here, at construction, and handed
to ``genai.Client(vertexai=True, ...)`` explicitly, so the SDK looks nothing up by itself.
Nothing here touches the network (``_vertex_auth`` says how credentials are found).

=====================  ========================================================================
setting                source
=====================  ========================================================================
project                ``options["project"]`` / GOOGLE_CLOUD_PROJECT / the service-account
                       key's ``project_id`` (required with credentials)
location               ``options["location"]`` / GOOGLE_CLOUD_LOCATION / ``global``
credentials            ``options["credentials"]`` / GOOGLE_APPLICATION_CREDENTIALS / gcloud's
                       ADC file / the metadata server on Google Cloud (``_vertex_auth``)
express-mode API key   ``api_key``; else GOOGLE_API_KEY when no project is configured (the
                       SDK's order: an explicit key wins, then an explicit or environment
                       project, then the environment key). Not GEMINI_API_KEY: that names a
                       Gemini Developer API key, which Vertex AI does not take.
base URL               ``base_url`` / GOOGLE_VERTEX_BASE_URL / the SDK's for the location
                       (``aiplatform.googleapis.com`` for ``global`` and express mode,
                       ``aiplatform.{us,eu}.rep.googleapis.com``, ``{location}-aiplatform...``)
API version            ``api_version`` / ``v1beta1`` (the SDK's default on Vertex AI)
timeout, headers,      as the ``gemini`` profile (``_factory``)
transport
=====================  ========================================================================

Requests go to ``{base}/v1beta1/projects/{project}/locations/{location}/publishers/google/
models/{model}:generateContent`` with ``Authorization: Bearer <access token>`` (express
mode: ``{base}/v1beta1/publishers/google/models/{model}:...`` with ``x-goog-api-key``).
"""

from __future__ import annotations

from typing import Any

from chatsim import ConfigError, MissingCredentialError
from chatsim.targets import (
    TargetSettings,
    env_setting,
    reads_environment,
    register_secret_headers,
)
from chatsim.targets.kit import register_secret, require_http_url
from chatsim_gemini._adapter import GeminiAdapter
from chatsim_gemini._factory import http_options, transport_options
from chatsim_gemini._vertex_auth import find_credentials

__all__ = [
    "DEFAULT_LOCATION",
    "EXPRESS_KEY_VARIABLE",
    "LOCATION_VARIABLE",
    "PROJECT_VARIABLE",
    "VERTEX_API_VERSION",
    "VERTEX_BASE_URL_VARIABLE",
    "create_vertex_adapter",
    "model_resource",
    "vertex_base_url",
]

PROJECT_VARIABLE = "GOOGLE_CLOUD_PROJECT"
LOCATION_VARIABLE = "GOOGLE_CLOUD_LOCATION"
VERTEX_BASE_URL_VARIABLE = "GOOGLE_VERTEX_BASE_URL"
EXPRESS_KEY_VARIABLE = "GOOGLE_API_KEY"
DEFAULT_LOCATION = "global"
VERTEX_API_VERSION = "v1beta1"
_MULTI_REGIONAL = frozenset({"us", "eu"})  # google-genai's _MULTI_REGIONAL_LOCATIONS


def vertex_base_url(location: str | None) -> str:
    """The endpoint google-genai picks for ``location`` (None: express mode)."""
    if location is None or location == "global":
        return "https://aiplatform.googleapis.com/"
    if location in _MULTI_REGIONAL:
        return f"https://aiplatform.{location}.rep.googleapis.com/"
    return f"https://{location}-aiplatform.googleapis.com/"


def model_resource(model: str, project: str | None, location: str | None) -> str:
    """The model's path after the API version, built as the SDK builds it: ``gemini-2.5-flash``
    -> ``projects/P/locations/L/publishers/google/models/gemini-2.5-flash``; ``meta/llama``
    -> ``publishers/meta/models/llama``; a full ``projects/...`` path stays as it is."""
    if model.startswith(("projects/", "models/", "publishers/")):
        path = model
    elif "/" in model:
        publisher, model_id = model.split("/", 1)
        path = f"publishers/{publisher}/models/{model_id}"
    else:
        path = f"publishers/google/models/{model}"
    if project and not path.startswith("projects/"):
        path = f"projects/{project}/locations/{location}/{path}"
    return path


def _express_key(settings: TargetSettings) -> str | None:
    """The express-mode key, where the SDK's precedence picks one over a project."""
    if settings.api_key:
        if settings.options.get("credentials") is not None:
            raise ConfigError(
                "the vertex adapter takes an API key or credentials, not both "
                "(google-genai refuses them together)"
            )
        return settings.api_key
    if settings.options.get("credentials") is not None:
        return None
    if env_setting(settings.options.get("project"), PROJECT_VARIABLE):
        return None
    return env_setting(None, EXPRESS_KEY_VARIABLE)


def _client_args(settings: TargetSettings) -> tuple[dict[str, Any], str | None, str | None]:
    """``genai.Client`` arguments for the credentials found, with the project and location
    (None, None in express mode)."""
    key = _express_key(settings)
    if key is not None:
        register_secret(key)
        return {"api_key": key}, None, None
    credentials, file_project = find_credentials(settings.options)
    register_secret(getattr(credentials, "token", None))
    project = env_setting(settings.options.get("project"), PROJECT_VARIABLE) or file_project
    if project is None:
        raise MissingCredentialError(
            PROJECT_VARIABLE,
            "the vertex adapter needs a Google Cloud project "
            "(or options['project'], or a service-account key that names one)",
        )
    location = env_setting(settings.options.get("location"), LOCATION_VARIABLE)
    location = location or DEFAULT_LOCATION
    args = {"credentials": credentials, "project": project, "location": location}
    return args, project, location


# Not GOOGLE_APPLICATION_CREDENTIALS: a path on this machine, which a remote worker may lack.
@reads_environment(
    PROJECT_VARIABLE, LOCATION_VARIABLE, VERTEX_BASE_URL_VARIABLE, EXPRESS_KEY_VARIABLE
)
def create_vertex_adapter(model: str, settings: TargetSettings) -> GeminiAdapter:
    """``vertex:<model>``, e.g. ``vertex:gemini-2.5-flash``: Gemini on Vertex AI."""
    register_secret_headers(settings.default_headers)
    args, project, location = _client_args(settings)
    base_url = env_setting(settings.base_url, VERTEX_BASE_URL_VARIABLE)
    base_url = base_url or vertex_base_url(location)
    base_url = require_http_url(base_url, f"the Vertex AI base URL ({VERTEX_BASE_URL_VARIABLE})")

    from google import genai

    api_version = settings.api_version or VERTEX_API_VERSION
    options, http = http_options(settings, base_url, api_version)
    # Project and location go in explicitly even with a custom base URL: the SDK otherwise
    # drops them from the path for a URL outside googleapis.com (an API gateway's form).
    client = genai.Client(vertexai=True, http_options=options, **args)
    return GeminiAdapter(
        model,
        client,
        base_url=base_url,
        name="vertex",
        http=http,
        api_version=api_version,
        resource=model_resource(model, project, location),
        credentials=args.get("credentials"),
        **transport_options(settings),
    )
