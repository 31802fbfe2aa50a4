"""``bedrock:<model>``: Claude on Amazon Bedrock's Anthropic-native (Mantle) endpoint, a profile
of the Anthropic adapter, against the loopback server's ``/anthropic/v1/messages``."""

from __future__ import annotations

import importlib.metadata
import json
import time
import tomllib
from pathlib import Path

import pytest
from anthropic_helpers import REPLY, request

import chatsim
from chatsim import AuthenticationError, ConfigError, MissingCredentialError, TransientError
from chatsim.targets import TargetSettings, create_adapter
from chatsim.testing import AnthropicLoopbackServer, Fault, FaultKind, registered_adapter
from chatsim_anthropic import BEDROCK_KEY_VARIABLES, AnthropicAdapter, bedrock_adapter

pytestmark = pytest.mark.anyio

KEY = "bedrock-api-key-test-0123456789abcdefXYZ"
MODEL = "anthropic.claude-opus-4-7"
_AWS = (
    *BEDROCK_KEY_VARIABLES,
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "ANTHROPIC_BEDROCK_MANTLE_BASE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_PROFILE",
    "ANTHROPIC_CUSTOM_HEADERS",
)


@pytest.fixture(autouse=True)
def _no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _AWS:
        monkeypatch.delenv(name, raising=False)


def _adapter(server: AnthropicLoopbackServer) -> AnthropicAdapter:
    return bedrock_adapter(MODEL, TargetSettings(api_key=KEY, base_url=server.bedrock_base_url))


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_call_goes_to_the_mantle_path_with_the_key_as_bearer(stream: bool) -> None:
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        adapter = _adapter(server)
        try:
            reply = await adapter.complete(request(stream=stream), now=time.perf_counter)
        finally:
            await adapter.aclose()
    (record,) = server.requests
    assert record.path == "/anthropic/v1/messages"
    assert record.headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in record.headers  # Bedrock's key travels as a Bearer token only
    assert record.headers["anthropic-version"]
    assert record.body["model"] == MODEL and record.body["max_tokens"] == 1024
    assert reply.text == REPLY and reply.finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == len(REPLY.split())
    assert reply.request_id == record.request_id == reply.headers["request-id"]
    assert (reply.timing.first_token_at is not None) is stream
    assert adapter.name == "bedrock" and KEY not in repr(reply) and KEY not in repr(adapter)


async def test_the_sdk_retries_are_off_and_errors_name_bedrock() -> None:
    async with AnthropicLoopbackServer(REPLY, api_key=KEY) as server:
        adapter = _adapter(server)
        server.inject(Fault(FaultKind.HTTP_ERROR, status=529))
        try:
            assert adapter.client.max_retries == 0
            with pytest.raises(TransientError) as info:
                await adapter.complete(request(), now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert len(server.requests) == 1  # the core retries, the SDK does not
    assert info.value.status_code == 529
    message = str(info.value)
    assert message.startswith("bedrock answered HTTP 529 (overloaded_error)")
    assert f"for model '{MODEL}' at {server.bedrock_base_url}/v1/messages" in message


async def test_a_refused_key_is_an_authentication_error_without_the_key() -> None:
    async with AnthropicLoopbackServer(REPLY, api_key="another-key-0123456789abcdef") as server:
        adapter = _adapter(server)
        try:
            with pytest.raises(AuthenticationError) as info:
                await adapter.complete(request(), now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert info.value.status_code == 401
    assert KEY not in f"{info.value} {info.value!r} {info.value.headers}"


async def test_the_key_and_region_come_from_the_environment_in_the_sdks_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_AWS_API_KEY", "second-key-0123456789abcdef")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    second = bedrock_adapter(MODEL, TargetSettings())
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    first = bedrock_adapter(MODEL, TargetSettings())
    explicit = bedrock_adapter(MODEL, TargetSettings(api_key="k3", options={"region": "ap-x-1"}))
    try:
        assert second.client.api_key == "second-key-0123456789abcdef"
        assert str(second.client.base_url) == "https://bedrock-mantle.eu-west-1.api.aws/anthropic/"
        assert first.client.api_key == KEY
        described = first.describe_request(request())
        assert described["url"] == "https://bedrock-mantle.us-east-1.api.aws/anthropic/v1/messages"
        assert KEY not in repr(described)
        assert explicit.client.api_key == "k3"
        assert str(explicit.client.base_url).startswith("https://bedrock-mantle.ap-x-1.api.aws/")
    finally:
        for adapter in (first, second, explicit):
            await adapter.aclose()


async def test_the_endpoint_override_needs_no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", KEY)
    monkeypatch.setenv("ANTHROPIC_BEDROCK_MANTLE_BASE_URL", "http://127.0.0.1:9/anthropic/")
    adapter = bedrock_adapter(MODEL, TargetSettings())
    try:
        url = adapter.describe_request(request())["url"]
        assert url == "http://127.0.0.1:9/anthropic/v1/messages"
    finally:
        await adapter.aclose()
    monkeypatch.setenv("ANTHROPIC_BEDROCK_MANTLE_BASE_URL", "bedrock-mantle.example")
    with pytest.raises(ConfigError, match="ANTHROPIC_BEDROCK_MANTLE_BASE_URL must be an http"):
        bedrock_adapter(MODEL, TargetSettings())


def test_a_missing_key_names_the_variable_and_says_iam_signing_is_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # IAM credentials in the environment are not a fallback: signing them needs boto3.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(MissingCredentialError) as info:
        bedrock_adapter(MODEL, TargetSettings())
    assert info.value.variable == "AWS_BEARER_TOKEN_BEDROCK"
    message = str(info.value)
    assert "ANTHROPIC_AWS_API_KEY" in message
    assert "IAM credentials (SigV4 signing) are not supported" in message
    assert "boto3" in message


def test_a_missing_region_names_the_variable() -> None:
    with pytest.raises(MissingCredentialError) as info:
        bedrock_adapter(MODEL, TargetSettings(api_key=KEY))
    assert info.value.variable == "AWS_REGION"
    assert "AWS_DEFAULT_REGION" in str(info.value) and KEY not in str(info.value)
    with pytest.raises(ConfigError, match=r"options\['region'\] must be a string"):
        bedrock_adapter(MODEL, TargetSettings(api_key=KEY, options={"region": 1}))


async def test_the_entry_point_declared_for_bedrock_builds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Read from this distribution's pyproject, so the test holds before a reinstall does too.
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    points = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["chatsim.targets"]
    point = importlib.metadata.EntryPoint("bedrock", points["bedrock"], "chatsim.targets")
    assert point.load() is bedrock_adapter
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with registered_adapter("bedrock", point.load()):
        adapter = create_adapter(f"bedrock:{MODEL}", TargetSettings())
    try:
        assert isinstance(adapter, AnthropicAdapter) and adapter.model == MODEL
    finally:
        await adapter.aclose()


async def test_a_run_records_no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    echoed = {"x-api-key": KEY, "authorization": f"Bearer {KEY}", "set-cookie": f"s={KEY}"}
    async with AnthropicLoopbackServer(
        "I think it is B.", api_key=KEY, extra_headers=echoed
    ) as server:
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", KEY)
        monkeypatch.setenv("ANTHROPIC_BEDROCK_MANTLE_BASE_URL", server.bedrock_base_url)
        with registered_adapter("bedrock", bedrock_adapter):
            result = await chatsim.evaluate(
                model=f"bedrock:{MODEL}", subset="college_math", limit=2, simulator="scripted",
                out_dir=tmp_path,
            )  # fmt: skip
    assert len(result.episodes) == 2 and server.requests
    assert all(r.path == "/anthropic/v1/messages" for r in server.requests)
    attempts = [a for e in result.episodes for t in e.turns for a in t.attempts]
    assert attempts and all(a.request_id for a in attempts)
    files = [p for p in result.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"header.json", "episodes.jsonl", "summary.json"}
    for path in files:
        assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path.name
    header = json.loads((result.run_dir / "header.json").read_text())
    assert header["config"]["models"] == [f"bedrock:{MODEL}"]
