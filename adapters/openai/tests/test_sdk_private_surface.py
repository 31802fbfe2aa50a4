"""The openai SDK's private names that this adapter relies on are still there, as it uses them.

The ``fast`` transport (``_fast.derive_endpoint``) and ``OpenAIAdapter.describe_request`` let
the configured SDK client build a template request (URL, Azure deployment path and
``api-version``, auth and default headers) through its own pipeline, which is private:

- ``openai._models.FinalRequestOptions`` and its ``construct(method=, url=, json_data=)``;
- ``AsyncOpenAI._prepare_options(options)`` (awaited; Azure overrides it);
- ``AsyncOpenAI._build_request(options)`` (sync; returns a request with ``url`` and
  ``headers``; Azure overrides it to insert the deployment path);
- ``AsyncOpenAI._prepare_request(request)`` (awaited, where present; it adds auth).

``pyproject.toml`` caps ``openai`` below the next major for this reason. A failure here means a
new SDK moved one of these: fix ``_fast.py`` first, then widen the pin.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, NoReturn

import openai
import pytest

from chatsim_openai._fast import derive_endpoint

pytestmark = pytest.mark.anyio

CLIENTS = pytest.mark.parametrize("cls", [openai.AsyncOpenAI, openai.AsyncAzureOpenAI])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials or endpoints in the environment would change the headers checked below.
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AZURE_OPENAI_AD_TOKEN", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _changed(name: str, detail: str) -> NoReturn:
    version = ".".join(openai.__version__.split(".")[:2])
    pytest.fail(
        f"openai {version} changed the private surface chatsim_openai._fast uses: {name}; "
        f"re-check _fast.py and widen the pin only after ({detail})",
        pytrace=False,
    )


def _accepts(name: str, fn: Callable[..., Any], positional: list[str]) -> None:
    """``fn`` takes exactly ``positional`` (by these names) plus only optional extras."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        _changed(name, f"no signature: {exc}")
    names = [p.name for p in params[: len(positional)]]
    if names != positional:
        _changed(name, f"parameters {names}, expected {positional}")
    required = [
        p.name
        for p in params[len(positional) :]
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        _changed(name, f"new required parameters {required}")


def _final_request_options() -> Any:
    try:
        module = importlib.import_module("openai._models")
    except ImportError as exc:
        _changed("openai._models", f"module gone: {exc}")
    cls = getattr(module, "FinalRequestOptions", None)
    if not inspect.isclass(cls):
        _changed("openai._models.FinalRequestOptions", "not a class any more")
    return cls


def test_final_request_options_constructs_from_method_url_and_json_data() -> None:
    cls = _final_request_options()
    construct = getattr(cls, "construct", None)
    if not inspect.ismethod(construct):  # a classmethod, bound to the class
        _changed("FinalRequestOptions.construct", "not a classmethod")
    fields = set(getattr(cls, "model_fields", None) or getattr(cls, "__fields__", {}))
    missing = {"method", "url", "json_data"} - fields
    if missing:
        _changed("FinalRequestOptions fields", f"missing {sorted(missing)}")
    options = cls.construct(method="post", url="/chat/completions", json_data={"model": "m"})
    seen = (options.method, options.url, options.json_data)
    if seen != ("post", "/chat/completions", {"model": "m"}):
        _changed("FinalRequestOptions.construct", f"built {seen!r}")


@CLIENTS
def test_the_client_hooks_keep_their_kind_and_parameters(cls: type[Any]) -> None:
    where = cls.__name__
    prepare_options = getattr(cls, "_prepare_options", None)
    if prepare_options is None or not inspect.iscoroutinefunction(prepare_options):
        _changed(f"{where}._prepare_options", "gone or no longer async")
    _accepts(f"{where}._prepare_options", prepare_options, ["self", "options"])
    build_request = getattr(cls, "_build_request", None)
    if build_request is None or inspect.iscoroutinefunction(build_request):
        _changed(f"{where}._build_request", "gone or now async")
    _accepts(f"{where}._build_request", build_request, ["self", "options"])
    # Optional in _fast (looked up with getattr), but where it exists it adds auth: keep its shape.
    prepare_request = getattr(cls, "_prepare_request", None)
    if prepare_request is not None:
        if not inspect.iscoroutinefunction(prepare_request):
            _changed(f"{where}._prepare_request", "no longer async")
        _accepts(f"{where}._prepare_request", prepare_request, ["self", "request"])


async def test_the_template_request_has_the_url_and_auth_the_sdk_would_send() -> None:
    client = openai.AsyncOpenAI(api_key="sk-surface-0123456789", base_url="http://127.0.0.1:9/v1")
    try:
        url, headers = await derive_endpoint(client, "/chat/completions", "m")
    finally:
        await client.close()
    if url != "http://127.0.0.1:9/v1/chat/completions":
        _changed("AsyncOpenAI._build_request", f"url {url!r}")
    auth = {k.lower(): v for k, v in headers.items()}.get("authorization")
    if auth != "Bearer sk-surface-0123456789":
        _changed("AsyncOpenAI._prepare_options/_prepare_request", f"authorization {auth!r}")


async def test_the_azure_template_request_has_the_deployment_path_and_key() -> None:
    client = openai.AsyncAzureOpenAI(
        api_key="az-surface-0123456789",
        azure_endpoint="https://example.openai.azure.com",
        api_version="2024-10-21",
    )
    try:
        url, headers = await derive_endpoint(client, "/chat/completions", "dep")
    finally:
        await client.close()
    expected = (
        "https://example.openai.azure.com/openai/deployments/dep/chat/completions"
        "?api-version=2024-10-21"
    )
    if url != expected:
        _changed("AsyncAzureOpenAI._build_request", f"url {url!r}")
    key = {k.lower(): v for k, v in headers.items()}.get("api-key")
    if key != "az-surface-0123456789":
        _changed("AsyncAzureOpenAI._prepare_options/_prepare_request", f"api-key {key!r}")
