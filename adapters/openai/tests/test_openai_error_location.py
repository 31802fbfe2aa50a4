"""Issue 15: every permanent target error names the endpoint and the model (the deployment, on
Azure), for both transports and every profile, and never the key: in the message and in the
attempt the core records."""

from __future__ import annotations

import pytest

from chatsim import PermanentError, TargetError
from chatsim.protocol import Message, Role
from chatsim.targets import CallPolicy, TargetAdapter, TargetCaller, TargetRequest, TargetSettings
from chatsim.testing import Fault, FaultKind, LoopbackServer
from chatsim_openai import azure_adapter, openai_adapter, vllm_adapter

pytestmark = pytest.mark.anyio

KEY = "sk-location-test-0123456789abcdef"
AZURE_KEY = "azure-location-key-0123456789abcdef"
REQUEST = TargetRequest(messages=(Message(Role.USER, "What is 2 + 2?"),), stream=True)
ONCE = CallPolicy(max_attempts=1)
TRANSPORTS = pytest.mark.parametrize("transport", ["fast", "sdk"])


async def _failure(adapter: TargetAdapter) -> TargetError:
    caller = TargetCaller(adapter, ONCE)
    try:
        with pytest.raises(TargetError) as info:
            await caller.call(REQUEST)
    finally:
        await caller.aclose()
    return info.value


def _assert_names(error: TargetError, *parts: str, secrets: tuple[str, ...]) -> None:
    (attempt,) = error.attempts
    recorded = attempt.model_dump_json()
    for text in (str(error), attempt.error_message or ""):
        for part in parts:
            assert part in text, (part, text)
    for secret in secrets:
        assert secret not in f"{error} {error!r} {error.headers} {recorded}"


@TRANSPORTS
async def test_an_azure_404_for_a_missing_deployment_names_the_deployment_and_url(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    async with LoopbackServer("unused") as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=404))
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.root_url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
        monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-06-01")
        adapter = azure_adapter("missing-deploy", TargetSettings(options={"transport": transport}))
        error = await _failure(adapter)
    assert isinstance(error, PermanentError) and error.status_code == 404
    url = f"{server.root_url}/openai/deployments/missing-deploy/chat/completions"
    assert str(error).startswith(
        f"azure answered HTTP 404 (model_not_found) for deployment 'missing-deploy' at {url}: "
    )
    _assert_names(error, "deployment 'missing-deploy'", url, secrets=(AZURE_KEY, "api-version"))


@TRANSPORTS
@pytest.mark.parametrize("status", [400, 404, 422])
async def test_openai_and_vllm_permanent_errors_name_model_and_endpoint(
    monkeypatch: pytest.MonkeyPatch, transport: str, status: int
) -> None:
    options = {"transport": transport}
    async with LoopbackServer("unused") as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=status), times=2)
        settings = TargetSettings(base_url=server.base_url, api_key=KEY, options=options)
        for adapter, provider in (
            (openai_adapter("gpt-4o", settings), "openai"),
            (vllm_adapter("gpt-4o", settings), "vllm"),
        ):
            error = await _failure(adapter)
            assert isinstance(error, PermanentError) and error.status_code == status
            assert str(error).startswith(f"{provider} answered HTTP {status}")
            url = f"{server.base_url}/chat/completions"
            _assert_names(error, "model 'gpt-4o'", url, secrets=(KEY,))
