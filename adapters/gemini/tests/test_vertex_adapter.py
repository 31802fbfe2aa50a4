"""The ``vertex`` profile through the official SDK against the loopback server's Vertex AI
paths: replies, the request as sent (path, bearer token), configuration from the standard
variables, credentials found without the network, and failures that name what to set."""

from __future__ import annotations

import json
import socket
import time
import tomllib
from collections.abc import AsyncIterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from google.auth import credentials as auth_credentials
from google.auth import exceptions as auth_errors
from google.oauth2.credentials import Credentials

from chatsim import AuthenticationError, ConfigError, MissingCredentialError, TransientError
from chatsim.protocol import Message, Role
from chatsim.targets import (
    HOSTED_ADAPTERS,
    CallPolicy,
    TargetCaller,
    TargetRequest,
    TargetSettings,
    available_adapters,
    create_adapter,
)
from chatsim.targets.kit import scrub
from chatsim.testing import Fault, FaultKind, Latency, ReplyScript
from chatsim_gemini import GeminiAdapter, create_vertex_adapter
from chatsim_gemini._vertex import model_resource, vertex_base_url
from chatsim_gemini.testing import GeminiLoopbackServer

TOKEN = "ya29.test-planted-access-token-0123456789"
EXPRESS_KEY = "AQ.test-planted-express-key-0123456789"
MODEL = "gemini-2.5-flash"
REQUEST = TargetRequest(
    messages=(
        Message(Role.SYSTEM, "You are terse."),
        Message(Role.USER, "What is 2 + 2?"),
        Message(Role.ASSISTANT, "4."),
        Message(Role.USER, "And 3 + 3?"),
    ),
    temperature=0.2,
    max_tokens=32,
    seed=11,
)

pytestmark = pytest.mark.anyio


def settings(server: GeminiLoopbackServer | None = None, **options: Any) -> TargetSettings:
    """Test credentials (a token, no refresh: nothing to fetch) and a project, on ``server``."""
    merged = {"credentials": Credentials(token=TOKEN), "project": "proj-1", **options}
    return TargetSettings(base_url=server.base_url if server else None, options=merged)


@pytest.fixture
async def vertex_server() -> AsyncIterator[GeminiLoopbackServer]:
    script = ReplyScript("The answer is (B).", latency=Latency.ms(first_token=5, inter_token=2))
    async with GeminiLoopbackServer(script, api_key=TOKEN) as served:
        yield served


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building an adapter must not connect anywhere, nor ask google-auth's default()."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("the vertex profile touched the network while being built")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("google.auth.default", refuse)


@pytest.mark.parametrize("stream", [True, False])
async def test_a_reply_on_the_vertex_path_with_the_bearer_token(
    vertex_server: GeminiLoopbackServer, stream: bool
) -> None:
    adapter = create_vertex_adapter(MODEL, settings(vertex_server, location="us-central1"))
    try:
        reply = await adapter.complete(
            TargetRequest(messages=REQUEST.messages, stream=stream), now=time.perf_counter
        )
    finally:
        await adapter.aclose()
    assert reply.text == "The answer is (B)." and reply.finish_reason == "stop"
    assert reply.request_id == vertex_server.upstream.completion_requests[0].request_id
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    if stream:
        assert reply.timing.first_token_at is not None
    (sent,) = vertex_server.requests
    assert (sent.service, sent.version, sent.project, sent.location) == (
        "vertex",
        "v1beta1",
        "proj-1",
        "us-central1",
    )
    assert sent.bearer and not sent.key_presented and sent.stream is stream
    assert adapter.name == "vertex"


async def test_the_request_as_sent_and_described(vertex_server: GeminiLoopbackServer) -> None:
    adapter = create_vertex_adapter(MODEL, settings(vertex_server))
    try:
        await adapter.complete(REQUEST, now=time.perf_counter)
        described = adapter.describe_request(REQUEST)
    finally:
        await adapter.aclose()
    body = vertex_server.requests[0].body
    assert body["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 32, "seed": 11}
    resource = f"projects/proj-1/locations/global/publishers/google/models/{MODEL}"
    assert described["url"] == (
        f"{vertex_server.base_url}v1beta1/{resource}:streamGenerateContent?alt=sse"
    )
    for field in ("contents", "generationConfig"):
        assert described["body"][field] == body[field]
    assert TOKEN not in json.dumps(described)


async def test_sdk_retries_are_off(vertex_server: GeminiLoopbackServer) -> None:
    vertex_server.inject(Fault(FaultKind.SERVICE_UNAVAILABLE), times=3)
    adapter = create_vertex_adapter(MODEL, settings(vertex_server))
    with pytest.raises(TransientError) as info:
        await TargetCaller(adapter, CallPolicy(max_attempts=1)).call(REQUEST)
    await adapter.aclose()
    assert info.value.status_code == 503
    assert len(vertex_server.requests) == 1  # one attempt, one HTTP request
    assert str(info.value).startswith("vertex answered HTTP 503 (UNAVAILABLE) for model")


async def test_a_refused_token_is_an_authentication_error_without_the_token(
    vertex_server: GeminiLoopbackServer,
) -> None:
    wrong = "ya29.some-other-token-0123456789"
    adapter = create_vertex_adapter(
        MODEL, settings(vertex_server, credentials=Credentials(token=wrong))
    )
    with pytest.raises(AuthenticationError) as info:
        await TargetCaller(adapter, CallPolicy(max_attempts=3)).call(REQUEST)
    await adapter.aclose()
    assert "Request had invalid authentication credentials" in str(info.value)
    assert len(vertex_server.requests) == 1  # the run stops: no retry of a refused token
    recorded = f"{info.value} {info.value.headers} {info.value.attempts[0].model_dump_json()}"
    assert wrong not in recorded and TOKEN not in recorded


class _Refusing(auth_credentials.Credentials):  # type: ignore[misc]
    """Credentials whose token refresh fails as google-auth's do (no network involved)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def refresh(self, request: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (auth_errors.RefreshError("invalid_grant: Token has been revoked."), AuthenticationError),
        (auth_errors.TransportError("token endpoint unreachable"), TransientError),
    ],
)
async def test_a_failed_token_refresh_is_translated(
    vertex_server: GeminiLoopbackServer, error: Exception, expected: type[Exception]
) -> None:
    adapter = create_vertex_adapter(MODEL, settings(vertex_server, credentials=_Refusing(error)))
    try:
        with pytest.raises(expected) as info:
            await adapter.complete(REQUEST, now=time.perf_counter)
    finally:
        await adapter.aclose()
    assert "access token" in str(info.value) and not vertex_server.requests
    if expected is AuthenticationError:
        assert "gcloud auth application-default login" in str(info.value)


async def test_express_mode_sends_the_key_on_the_publisher_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with GeminiLoopbackServer("Hi.", api_key=EXPRESS_KEY) as server:
        monkeypatch.setenv("GOOGLE_API_KEY", EXPRESS_KEY)  # no project: express mode
        adapter = create_vertex_adapter(MODEL, TargetSettings(base_url=server.base_url))
        try:
            reply = await adapter.complete(REQUEST, now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert reply.text == "Hi."
    (sent,) = server.requests
    assert (sent.service, sent.project, sent.key_header, sent.bearer) == (
        "vertex-express",
        None,
        True,
        False,
    )
    assert adapter.resource == f"publishers/google/models/{MODEL}"


# -- configuration ---------------------------------------------------------------------------


def test_project_and_location_from_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    monkeypatch.setenv("GOOGLE_API_KEY", EXPRESS_KEY)  # a project configured wins over it
    adapter = create_vertex_adapter(
        MODEL, TargetSettings(options={"credentials": Credentials(token=TOKEN)})
    )
    assert adapter.base_url == "https://europe-west4-aiplatform.googleapis.com/"
    assert adapter.resource == (
        f"projects/env-proj/locations/europe-west4/publishers/google/models/{MODEL}"
    )
    assert adapter.client._api_client.api_key is None


def test_location_defaults_to_global_as_the_sdk_does(no_network: None) -> None:
    adapter = create_vertex_adapter(MODEL, settings())
    assert adapter.base_url == "https://aiplatform.googleapis.com/"
    assert "/locations/global/" in adapter.endpoint(stream=False)


def test_the_endpoint_moves_only_by_its_own_variable(
    monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", "https://gateway.example/vertex/")
    adapter = create_vertex_adapter(MODEL, settings())
    assert adapter.endpoint(stream=False).startswith(
        "https://gateway.example/vertex/v1beta1/projects/proj-1/locations/global/"
    )
    assert "vertex" in HOSTED_ADAPTERS
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", "ftp://nope")
    with pytest.raises(ConfigError, match="GOOGLE_VERTEX_BASE_URL"):
        create_vertex_adapter(MODEL, settings())


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("global", "https://aiplatform.googleapis.com/"),
        ("us", "https://aiplatform.us.rep.googleapis.com/"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com/"),
        ("us-central1", "https://us-central1-aiplatform.googleapis.com/"),
        (None, "https://aiplatform.googleapis.com/"),
    ],
)
def test_default_endpoints_are_the_sdks(location: str | None, url: str) -> None:
    assert vertex_base_url(location) == url


def test_model_resources_are_built_as_the_sdk_builds_them() -> None:
    assert model_resource("m", "p", "l") == "projects/p/locations/l/publishers/google/models/m"
    assert model_resource("meta/llama", "p", "l").endswith("/publishers/meta/models/llama")
    assert model_resource("projects/x/locations/y/endpoints/1", "p", "l") == (
        "projects/x/locations/y/endpoints/1"
    )
    assert model_resource("m", None, None) == "publishers/google/models/m"


def test_missing_credentials_say_how_to_log_in(no_network: None) -> None:
    with pytest.raises(MissingCredentialError) as info:
        create_vertex_adapter(MODEL, TargetSettings(options={"project": "p"}))
    message = str(info.value)
    assert info.value.variable == "GOOGLE_APPLICATION_CREDENTIALS"
    assert "gcloud auth application-default login" in message and "GOOGLE_API_KEY" in message


def test_missing_project_names_the_variable(no_network: None) -> None:
    with pytest.raises(MissingCredentialError) as info:
        create_vertex_adapter(
            MODEL, TargetSettings(options={"credentials": Credentials(token=TOKEN)})
        )
    assert info.value.variable == "GOOGLE_CLOUD_PROJECT"


def _authorized_user(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": "test-client-secret",
                "refresh_token": "test-refresh-token",
            }
        )
    )
    return path


def test_gcloud_application_default_credentials_are_read_from_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None
) -> None:
    config = tmp_path / "gcloud-login"
    _authorized_user(config / "application_default_credentials.json")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(config))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    adapter = create_vertex_adapter(MODEL, TargetSettings())
    found = adapter.client._api_client._credentials
    assert found is not None and found.refresh_token == "test-refresh-token"
    assert not found.valid  # no token yet: the first request refreshes it


def test_a_service_account_key_names_its_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "sa.json"
    info = {
        "type": "service_account",
        "project_id": "sa-project",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "bot@sa-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    adapter = create_vertex_adapter(MODEL, TargetSettings())
    assert adapter.resource.startswith("projects/sa-project/locations/global/")


def test_an_unreadable_credentials_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        create_vertex_adapter(MODEL, TargetSettings(options={"project": "p"}))


def test_on_google_cloud_the_metadata_server_is_used_without_a_probe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None
) -> None:
    from google.auth import compute_engine

    from chatsim_gemini import _vertex_auth

    product = tmp_path / "product_name"
    product.write_text("Google Compute Engine\n")
    monkeypatch.setattr(_vertex_auth, "_DMI_PRODUCT", product)
    adapter = create_vertex_adapter(MODEL, TargetSettings(options={"project": "p"}))
    assert isinstance(adapter.client._api_client._credentials, compute_engine.Credentials)


def test_credentials_must_be_google_auth_credentials(no_network: None) -> None:
    with pytest.raises(ConfigError, match=r"google\.auth\.credentials\.Credentials"):
        create_vertex_adapter(MODEL, settings(credentials="a token"))


def test_a_key_and_credentials_together_are_refused(no_network: None) -> None:
    both = TargetSettings(api_key=EXPRESS_KEY, options={"credentials": Credentials(token=TOKEN)})
    with pytest.raises(ConfigError, match="not both"):
        create_vertex_adapter(MODEL, both)


def test_the_access_token_is_registered_as_a_secret(no_network: None) -> None:
    create_vertex_adapter(MODEL, settings())
    assert TOKEN not in scrub(f"Authorization: Bearer {TOKEN}")


# -- the entry point -------------------------------------------------------------------------


def test_the_entry_point_is_declared_and_loads() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["chatsim.targets"]
    point = EntryPoint("vertex", declared["vertex"], "chatsim.targets")
    assert point.load() is create_vertex_adapter


def test_the_installed_entry_point_builds_the_profile(no_network: None) -> None:
    if "vertex" not in available_adapters():
        pytest.skip("installed chatsim-gemini predates `vertex`: pip install -e adapters/gemini")
    adapter = create_adapter(f"vertex:{MODEL}", settings())
    assert isinstance(adapter, GeminiAdapter) and adapter.name == "vertex"
