"""Profiles: configuration precedence, missing credentials, URLs and auth as sent."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from chatsim import ConfigError, MissingCredentialError, TransientError
from chatsim.protocol._types import Message, Role
from chatsim.targets import TargetRequest, TargetSettings, available_adapters, create_adapter
from chatsim.testing._faults import Fault, FaultKind
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_capacity import RateLimits
from chatsim_openai import OpenAIAdapter, azure_adapter, openai_adapter, vllm_adapter

pytestmark = pytest.mark.anyio

REQUEST = TargetRequest(messages=(Message(Role.USER, "hi"),))
ENV = [
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION", "CHATSIM_VLLM_BASE_URL", "VLLM_API_KEY",
]  # fmt: skip
TRANSPORTS = pytest.mark.parametrize("transport", ["fast", "sdk"])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


async def call(adapter: OpenAIAdapter, request: TargetRequest = REQUEST) -> str:
    try:
        return (await adapter.complete(request, now=time.perf_counter)).text
    finally:
        await adapter.aclose()


def test_entry_points_registered() -> None:
    assert {"openai", "azure", "vllm"} <= set(available_adapters())
    adapter = create_adapter("vllm:my-model", TargetSettings(base_url="http://127.0.0.1:1/v1"))
    assert isinstance(adapter, OpenAIAdapter)
    assert (adapter.name, adapter.model, adapter.transport) == ("vllm", "my-model", "fast")


def test_missing_credentials_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingCredentialError, match="OPENAI_API_KEY") as info:
        openai_adapter("gpt-4o", TargetSettings())
    assert info.value.variable == "OPENAI_API_KEY"
    with pytest.raises(MissingCredentialError, match="CHATSIM_VLLM_BASE_URL"):
        vllm_adapter("m", TargetSettings())
    with pytest.raises(MissingCredentialError, match="AZURE_OPENAI_ENDPOINT"):
        azure_adapter("dep", TargetSettings())
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:1")
    with pytest.raises(MissingCredentialError, match="AZURE_OPENAI_API_KEY"):
        azure_adapter("dep", TargetSettings())
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-123456")
    with pytest.raises(MissingCredentialError, match="OPENAI_API_VERSION"):
        azure_adapter("dep", TargetSettings())


def test_unknown_transport_is_a_config_error() -> None:
    settings = TargetSettings(
        base_url="http://127.0.0.1:1/v1", options={"transport": "carrier-pigeon"}
    )
    with pytest.raises(ConfigError, match="carrier-pigeon"):
        vllm_adapter("m", settings)


@TRANSPORTS
async def test_openai_env_and_precedence(monkeypatch: pytest.MonkeyPatch, transport: str) -> None:
    async with LoopbackServer("ok") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0123456789")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
        options = {"transport": transport}
        assert await call(openai_adapter("gpt-4o", TargetSettings(options=options))) == "ok"
        explicit = TargetSettings(
            api_key="sk-explicit-0123456789",
            default_headers={"X-Team": "evals"},
            options={**options, "organization": "org-arg"},
        )
        assert await call(openai_adapter("gpt-4o", explicit)) == "ok"
        first, second = server.completion_requests
    assert first.headers["authorization"] == "Bearer sk-from-env-0123456789"
    assert first.headers["openai-organization"] == "org-env"
    assert second.headers["authorization"] == "Bearer sk-explicit-0123456789"
    assert second.headers["openai-organization"] == "org-arg"
    assert second.headers["x-team"] == "evals"
    assert first.path == "/v1/chat/completions" and first.body["model"] == "gpt-4o"


@TRANSPORTS
async def test_azure_deployment_url_and_key(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    async with LoopbackServer("azure ok") as server:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.root_url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-env-key-0123456789")
        monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-06-01")
        settings = TargetSettings(options={"transport": transport})
        assert await call(azure_adapter("gpt4o-deploy", settings)) == "azure ok"
        monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")  # wins over AZURE_OPENAI_API_VERSION
        monkeypatch.delenv("AZURE_OPENAI_API_KEY")
        monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "ad-token-0123456789")
        assert await call(azure_adapter("gpt4o-deploy", settings)) == "azure ok"
        first, second = server.completion_requests
    assert first.path == "/openai/deployments/gpt4o-deploy/chat/completions"
    assert first.query == {"api-version": "2024-06-01"}
    assert first.headers["api-key"] == "azure-env-key-0123456789"
    assert "authorization" not in first.headers
    assert second.query == {"api-version": "2024-10-21"}
    assert second.headers["authorization"] == "Bearer ad-token-0123456789"


@TRANSPORTS
async def test_vllm_base_url_and_optional_key(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    options = {"transport": transport}
    async with LoopbackServer("served") as server:
        monkeypatch.setenv(
            "OPENAI_BASE_URL", "http://127.0.0.1:1/v1"
        )  # loses to CHATSIM_VLLM_BASE_URL
        monkeypatch.setenv("CHATSIM_VLLM_BASE_URL", server.base_url)
        assert await call(vllm_adapter("lora", TargetSettings(options=options))) == "served"
        monkeypatch.setenv("VLLM_API_KEY", "vllm-key-0123456789")
        assert await call(vllm_adapter("lora", TargetSettings(options=options))) == "served"
        first, second = server.completion_requests
    assert first.headers["authorization"] == "Bearer EMPTY"
    assert second.headers["authorization"] == "Bearer vllm-key-0123456789"


def test_describe_request_shows_url_and_body_without_credentials() -> None:
    settings = TargetSettings(
        base_url="https://example.openai.azure.com", api_key="sk-describe-0123456789",
        api_version="2024-10-21",
    )  # fmt: skip
    adapter = azure_adapter("dep", settings)
    request = TargetRequest(messages=(Message(Role.USER, "hi"),), seed=3, stop=("[END]",))
    described = adapter.describe_request(request)
    assert described["method"] == "POST"
    assert described["url"] == (
        "https://example.openai.azure.com/openai/deployments/dep/chat/completions"
        "?api-version=2024-10-21"
    )
    assert described["body"] == {
        "model": "dep",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.7,
        "seed": 3,
        "stop": ["[END]"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert "sk-describe-0123456789" not in repr(described)


@TRANSPORTS
async def test_extra_fields_and_rate_limit_headers(transport: str) -> None:
    limits = RateLimits(requests_per_minute=100)
    async with LoopbackServer("x", rate_limits=limits) as server:
        adapter = vllm_adapter(
            "m", TargetSettings(base_url=server.base_url, options={"transport": transport})
        )
        request = TargetRequest(messages=(Message(Role.USER, "hi"),), extra={"top_p": 0.5})
        try:
            reply = await adapter.complete(request, now=time.perf_counter)
        finally:
            await adapter.aclose()
        assert server.completion_requests[0].body["top_p"] == 0.5
    assert reply.headers["x-ratelimit-remaining-requests"] == "99"
    assert "content-type" not in reply.headers


@TRANSPORTS
async def test_client_timeout_becomes_transient(transport: str) -> None:
    async with LoopbackServer("x") as server:
        server.inject(Fault(FaultKind.STALL, stall=5.0))
        settings = TargetSettings(
            base_url=server.base_url, options={"transport": transport, "timeout": 0.05}
        )
        adapter = vllm_adapter("m", settings)
        try:
            with pytest.raises(TransientError, match="timed out"):
                await adapter.complete(REQUEST, now=time.perf_counter)
        finally:
            await adapter.aclose()


def test_importing_the_adapter_does_not_import_torch() -> None:
    modules = "chatsim_openai, chatsim_openai._fast, chatsim_openai._sdk"
    code = f"import sys, {modules}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@TRANSPORTS
async def test_connection_refused_is_transient(transport: str) -> None:
    async with LoopbackServer() as server:
        base_url = server.base_url  # the port is free again once the server has closed
    adapter = vllm_adapter("m", TargetSettings(base_url=base_url, options={"transport": transport}))
    try:
        with pytest.raises(TransientError, match="connection") as info:
            await adapter.complete(REQUEST, now=time.perf_counter)
    finally:
        await adapter.aclose()
    assert info.value.status_code is None and info.value.__cause__ is not None
