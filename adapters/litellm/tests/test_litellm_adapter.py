"""The litellm adapter's replies, requests and configuration, through litellm against
chatsim's loopback servers: the OpenAI one (``litellm:openai/...``) and, as a cross-check of
a second wire protocol, the Anthropic one (``litellm:anthropic/...``)."""

from __future__ import annotations

import time

import pytest
from litellm_helpers import KEY, QUESTION, REPLY, SYSTEM, anthropic_adapter, openai_adapter, request

from chatsim import ConfigError, MissingCredentialError
from chatsim.targets import (
    HOSTED_ADAPTERS,
    ModelSpec,
    TargetSettings,
    available_adapters,
    create_adapter,
    target_settings,
)
from chatsim.targets.kit import scrub
from chatsim.testing import Latency, LoopbackServer, ReplyScript
from chatsim.testing._server_script import count_tokens
from chatsim_anthropic.testing import AnthropicLoopbackServer
from chatsim_litellm import LiteLLMAdapter, litellm_adapter

pytestmark = pytest.mark.anyio

TIMED = ReplyScript(REPLY, latency=Latency.ms(first_token=5, inter_token=2, chunks=4))


@pytest.mark.parametrize("stream", [True, False])
async def test_a_reply_through_the_openai_provider(stream: bool) -> None:
    async with LoopbackServer(TIMED, api_key=KEY) as server:
        adapter = openai_adapter(server.base_url)
        started = time.perf_counter()
        reply = await adapter.complete(request(stream=stream), now=time.perf_counter)
        ended = time.perf_counter()
    (record,) = server.completion_requests
    assert (reply.text, reply.finish_reason) == (REPLY, "stop")
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        count_tokens(SYSTEM) + count_tokens(QUESTION),
        count_tokens(REPLY),
    )
    assert reply.request_id == record.request_id == reply.headers["x-request-id"]
    assert record.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION},
    ]
    assert record.headers["authorization"] == f"Bearer {KEY}"
    first = reply.timing.first_token_at
    if stream:
        assert record.body["stream_options"] == {"include_usage": True}
        assert first is not None and started + 0.004 <= first <= ended
        assert reply.timing.ended_at is not None and first < reply.timing.ended_at <= ended
        assert reply.timing.max_token_gap is not None
    else:
        assert "stream" not in record.body and first is None


@pytest.mark.parametrize("stream", [True, False])
async def test_a_reply_through_the_anthropic_provider(stream: bool) -> None:
    async with AnthropicLoopbackServer(TIMED, api_key=KEY) as server:
        adapter = anthropic_adapter(server.base_url)
        reply = await adapter.complete(request(stream=stream, seed=7), now=time.perf_counter)
    (record,) = server.requests
    assert (reply.text, reply.finish_reason) == (REPLY, "stop")
    # The server counts only plain-string contents; litellm sends text blocks, so only the
    # completion is counted on both sides.
    assert reply.usage is not None and reply.usage.completion_tokens == count_tokens(REPLY)
    assert reply.request_id == record.request_id == reply.headers["request-id"]
    assert record.headers["x-api-key"] == KEY
    assert [b["text"] for b in record.body["system"]] == [SYSTEM]  # the Messages API's field
    assert "seed" not in record.body  # dropped: the Messages API has none
    assert (reply.timing.first_token_at is not None) is stream


async def test_request_fields_and_extra_pass_through() -> None:
    async with LoopbackServer(REPLY, api_key=KEY) as server:
        adapter = openai_adapter(server.base_url)
        req = request(temperature=0.3, max_tokens=64, seed=7, stop=("[END]",), extra={"top_p": 0.5})
        await adapter.complete(req, now=time.perf_counter)
        await adapter.complete(request(temperature=None), now=time.perf_counter)
    first, second = (r.body for r in server.completion_requests)
    assert (first["temperature"], first["max_tokens"], first["seed"]) == (0.3, 64, 7)
    assert (first["stop"], first["top_p"]) == (["[END]"], 0.5)
    assert "temperature" not in second


def test_describe_request_names_the_call_without_credentials() -> None:
    adapter = openai_adapter("http://127.0.0.1:9/v1")
    described = adapter.describe_request(request())
    assert described["function"] == "litellm.acompletion"
    kwargs = described["kwargs"]
    assert kwargs["model"] == "openai/gpt-4o"
    assert (kwargs["num_retries"], kwargs["max_retries"], kwargs["drop_params"]) == (0, 0, True)
    assert "fallbacks" not in kwargs and "api_key" not in kwargs
    assert KEY not in repr(described) and KEY not in repr(adapter)


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("openai/gpt-4o", "OPENAI_API_KEY"),
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("groq/llama-3.1-8b-instant", "GROQ_API_KEY"),
    ],
)
def test_a_missing_key_fails_at_construction_naming_the_variable(model: str, variable: str) -> None:
    with pytest.raises(MissingCredentialError, match=variable) as caught:
        litellm_adapter(model, TargetSettings())
    assert caught.value.variable == variable


@pytest.mark.parametrize("model", ["gpt-4o", "openai/", "nosuchprovider/model"])
def test_a_spec_must_name_a_provider_litellm_knows(model: str) -> None:
    with pytest.raises(ConfigError, match="provider"):
        litellm_adapter(model, TargetSettings(api_key=KEY))


async def test_the_providers_own_variables_set_key_and_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        LoopbackServer(REPLY, api_key=KEY) as openai_server,
        AnthropicLoopbackServer(REPLY, api_key=KEY) as anthropic_server,
    ):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_API_BASE", anthropic_server.base_url)
        for spec in ("litellm:openai/gpt-4o", "litellm:anthropic/claude-sonnet-4-5"):
            adapter = create_adapter(spec, TargetSettings())
            reply = await adapter.complete(request(), now=time.perf_counter)
            assert reply.text == REPLY
    assert len(openai_server.requests) == len(anthropic_server.requests) == 1


def test_registered_and_hosted_so_the_generic_base_url_never_applies() -> None:
    assert "litellm" in available_adapters() and "litellm" in HOSTED_ADAPTERS
    spec = ModelSpec("litellm", "openai/gpt-4o", "litellm:openai/gpt-4o")
    assert target_settings(spec, base_url="http://self-hosted:8000/v1").base_url is None
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        target_settings(spec, endpoint="http://self-hosted:8000/v1")
    adapter = create_adapter("litellm:openai/gpt-4o", TargetSettings(api_key=KEY))
    assert isinstance(adapter, LiteLLMAdapter)
    assert (adapter.name, adapter.model, adapter.api_base) == ("litellm", "openai/gpt-4o", None)


def test_a_bad_endpoint_is_refused_at_construction() -> None:
    with pytest.raises(ConfigError):
        litellm_adapter("openai/gpt-4o", TargetSettings(api_key=KEY, base_url="ftp://nowhere"))


async def test_timeout_and_extra_headers_options() -> None:
    async with LoopbackServer(REPLY, api_key=KEY) as server:
        settings = TargetSettings(
            base_url=server.base_url,
            api_key=KEY,
            default_headers={"x-team": "evals"},
            options={"timeout": 30},
        )
        adapter = litellm_adapter("openai/gpt-4o", settings)
        await adapter.complete(request(), now=time.perf_counter)
    assert adapter.timeout == 30.0 and server.requests[0].headers["x-team"] == "evals"
    with pytest.raises(ConfigError, match="timeout"):
        litellm_adapter("openai/gpt-4o", TargetSettings(api_key=KEY, options={"timeout": "soon"}))


def test_keys_in_the_environment_are_registered_for_scrubbing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    planted = "gsk-planted-environment-secret-0123"
    monkeypatch.setenv("GROQ_API_KEY", planted)
    litellm_adapter("groq/llama-3.1-8b-instant", TargetSettings())
    assert planted not in scrub(f"the provider said: bad key {planted}")
