"""The loopback server's endpoints, driven through the real openai SDK and a bare client."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import aiohttp
import anyio
import openai
import pytest

from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_capacity import Capacity, RateLimits
from chatsim.testing._server_script import Latency, ReplyContext, ReplyScript

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "What is two plus two?"}]


_clients: list[openai.AsyncOpenAI] = []


def sdk(server: LoopbackServer, key: str = "sk-test") -> openai.AsyncOpenAI:
    """An SDK client on ``server``, closed after the test by ``close_clients``."""
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=key, max_retries=0)
    _clients.append(client)
    return client


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while _clients:
        await _clients.pop().close()


async def sse_events(http: aiohttp.ClientSession, url: str, body: dict[str, object]) -> list[str]:
    async with http.post(url, json=body) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = (await resp.read()).decode()
    assert raw.endswith("data: [DONE]\n\n")
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    return [e[len("data: ") :] for e in events]


async def test_chat_non_streamed_through_sdk() -> None:
    async with LoopbackServer("Four.") as server:
        raw = await sdk(server).chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=USER,
            temperature=0.7,  # type: ignore[arg-type]
        )
        reply = raw.parse()
        assert reply.choices[0].message.content == "Four."
        assert reply.choices[0].finish_reason == "stop"
        assert reply.usage is not None
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (5, 1)
        (record,) = server.completion_requests
        assert raw.headers["x-request-id"] == record.request_id
        assert record.body["messages"] == USER
        assert record.body["temperature"] == 0.7
        assert record.headers["authorization"] == "Bearer sk-test"
        assert record.status == 200 and record.model == "gpt-4o" and not record.stream


async def test_chat_streamed_through_sdk_with_usage() -> None:
    async with LoopbackServer("The answer is four.") as server:
        stream = await sdk(server).chat.completions.create(
            model="m",
            messages=USER,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is four."
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1


async def test_stream_wire_format(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(ReplyScript("a b c", latency=Latency(chunks=2))) as server:
        url = f"{server.base_url}/chat/completions"
        plain = await sse_events(http, url, {"model": "m", "messages": USER, "stream": True})
        body = {"model": "m", "messages": USER, "stream": True}
        with_usage = await sse_events(
            http, url, {**body, "stream_options": {"include_usage": True}}
        )
    assert plain[-1] == "[DONE]"
    parsed = [json.loads(e) for e in plain[:-1]]
    assert [p["object"] for p in parsed] == ["chat.completion.chunk"] * 4
    assert [p["choices"][0]["delta"].get("content") for p in parsed] == ["", "a b", " c", None]
    assert all("usage" not in p for p in parsed)
    usage_chunks = [json.loads(e) for e in with_usage[:-1]]
    assert all("usage" in p for p in usage_chunks)
    assert usage_chunks[-1]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }


async def test_completions_stop_max_tokens_and_batches() -> None:
    script = ReplyScript(lambda ctx: f"{ctx.prompt} reply [END] trailing words")
    async with LoopbackServer(script) as server:
        client = sdk(server)
        single = await client.completions.create(model="lora", prompt="hi", stop=["[END]"])
        assert single.choices[0].text == "hi reply "
        assert single.choices[0].finish_reason == "stop"
        batch = await client.completions.create(model="lora", prompt=["x", "y"], max_tokens=1)
        assert [(c.index, c.text, c.finish_reason) for c in batch.choices] == [
            (0, "x", "length"),
            (1, "y", "length"),
        ]
        assert batch.usage is not None and batch.usage.prompt_tokens == 2
        stream = await client.completions.create(
            model="lora", prompt="p", stop="[END]", stream=True
        )
        pieces = [c.choices[0] async for c in stream]
    assert "".join(p.text for p in pieces) == "p reply "
    assert pieces[-1].finish_reason == "stop"


async def test_models_and_per_model_scripts() -> None:
    script = ReplyScript("default", models={"slow": ReplyScript("special")})
    async with LoopbackServer(script) as server:
        client = sdk(server)
        ids = [m.id async for m in client.models.list()]
        assert ids == ["loopback", "slow"]
        a = await client.chat.completions.create(model="slow", messages=USER)  # type: ignore[arg-type]
        b = await client.chat.completions.create(model="x", messages=USER)  # type: ignore[arg-type]
    assert (a.choices[0].message.content, b.choices[0].message.content) == ("special", "default")


async def test_azure_deployment_paths() -> None:
    async with LoopbackServer("azure says hi", api_key="azure-key-1234567890") as server:
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=server.root_url,
            api_key="azure-key-1234567890",
            api_version="2024-10-21",
            max_retries=0,
        )
        _clients.append(client)  # type: ignore[arg-type]
        reply = await client.chat.completions.create(model="my-deploy", messages=USER)  # type: ignore[arg-type]
        (record,) = server.completion_requests
    assert reply.choices[0].message.content == "azure says hi"
    assert record.path == "/openai/deployments/my-deploy/chat/completions"
    assert record.query == {"api-version": "2024-10-21"}
    assert record.model == "my-deploy"
    assert record.headers["api-key"] == "azure-key-1234567890"


async def test_reply_function_sees_the_request() -> None:
    seen: list[ReplyContext] = []

    def reply(ctx: ReplyContext) -> str:
        seen.append(ctx)
        return ctx.last_user_message.upper()

    async with LoopbackServer(ReplyScript(reply)) as server:
        out = await sdk(server).chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert out.choices[0].message.content == "WHAT IS TWO PLUS TWO?"
    assert seen[0].endpoint == "chat" and seen[0].model == "m"


async def test_reply_queue_then_exhausted() -> None:
    async with LoopbackServer(ReplyScript(["one", "two"])) as server:
        client = sdk(server)
        texts = [
            (await client.chat.completions.create(model="m", messages=USER))
            .choices[0]
            .message.content  # type: ignore[arg-type]
            for _ in range(2)
        ]
        assert texts == ["one", "two"]
        with pytest.raises(openai.InternalServerError, match="queue is empty"):
            await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        server.script.push("three")
        again = await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert again.choices[0].message.content == "three"


async def test_latency_is_scripted_and_recorded(http: aiohttp.ClientSession) -> None:
    script = ReplyScript("a b c d", latency=Latency.ms(first_token=4, inter_token=1))
    async with LoopbackServer(script) as server:
        url = f"{server.base_url}/chat/completions"
        await sse_events(http, url, {"model": "m", "messages": USER, "stream": True})
        (record,) = server.completion_requests
    assert record.sent_ttft is not None and record.sent_ttft >= 0.004
    assert record.ended_at is not None and record.first_token_sent_at is not None
    assert record.ended_at - record.first_token_sent_at >= 0.003  # three inter-token gaps


async def test_api_key_enforced_and_echoed_masked() -> None:
    async with LoopbackServer(api_key="sk-right-key-0123456789") as server:
        with pytest.raises(openai.AuthenticationError) as info:
            await sdk(server, "sk-wrong-key-0123456789").chat.completions.create(
                model="m",
                messages=USER,  # type: ignore[arg-type]
            )
        assert "sk-wrong-key-0123456789" not in str(info.value)
        assert info.value.code == "invalid_api_key"
        ok = await sdk(server, "sk-right-key-0123456789").chat.completions.create(
            model="m",
            messages=USER,  # type: ignore[arg-type]
        )
    assert ok.choices[0].message.content


async def test_bad_requests_get_openai_400s(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(context_length=3) as server:
        url = f"{server.base_url}/chat/completions"
        for body, code in [
            (b"{not json", None),
            (json.dumps({"messages": USER}).encode(), None),
            (json.dumps({"model": "m", "messages": []}).encode(), None),
            (json.dumps({"model": "m", "messages": USER}).encode(), "context_length_exceeded"),
        ]:
            async with http.post(url, data=body) as resp:
                assert resp.status == 400
                error = (await resp.json())["error"]
                assert error["type"] == "invalid_request_error" and error["code"] == code


async def test_counters_and_request_bound() -> None:
    script = ReplyScript("x", latency=Latency.ms(first_token=5))
    async with LoopbackServer(script, keep_requests=3) as server:
        client = sdk(server)
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(lambda: client.chat.completions.create(model="m", messages=USER))  # type: ignore[arg-type]
        assert server.stats.requests == 8
        assert server.stats.max_in_flight == 8
        assert server.stats.in_flight == 0
        assert server.stats.statuses[200] == 8
        assert len(server.requests) == 3
        server.clear()
        assert server.requests == [] and server.stats.requests == 0
    async with LoopbackServer(keep_requests=0) as quiet:
        await sdk(quiet).chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        assert quiet.requests == [] and quiet.stats.requests == 1


async def test_rate_limit_headers_and_enforcement() -> None:
    limits = RateLimits(requests_per_minute=2, tokens_per_minute=1000, enforce=True)
    async with LoopbackServer(rate_limits=limits) as server:
        client = sdk(server)
        first = await client.chat.completions.with_raw_response.create(model="m", messages=USER)  # type: ignore[arg-type]
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-remaining-tokens"] == "995"
        await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert 0 < float(info.value.response.headers["retry-after"]) <= 60


async def test_capacity_queues_then_rejects() -> None:
    script = ReplyScript("x", latency=Latency.ms(first_token=3))
    async with LoopbackServer(script, capacity=Capacity(workers=1)) as server:
        client = sdk(server)
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(lambda: client.chat.completions.create(model="m", messages=USER))  # type: ignore[arg-type]
        records = sorted(server.completion_requests, key=lambda r: r.ended_at or 0)
        assert server.max_waiting >= 2
        ends = [r.ended_at or 0 for r in records]
        # One worker: replies finish one after another, at least one reply time apart.
        assert all(b - a >= 0.0025 for a, b in itertools.pairwise(ends))
    capacity = Capacity(workers=1, queue_limit=1, reject_status=503, retry_after=2)
    async with LoopbackServer(script, capacity=capacity) as server:
        client = sdk(server)
        outcomes: list[int] = []
        retry_afters: list[str] = []

        async def one() -> None:
            try:
                await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
                outcomes.append(200)
            except openai.APIStatusError as exc:
                outcomes.append(exc.status_code)
                retry_afters.append(exc.response.headers["retry-after"])

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
    assert sorted(outcomes) == [200, 200, 503, 503, 503]
    assert retry_afters == ["2", "2", "2"]
