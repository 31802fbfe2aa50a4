"""first_token_at as the adapter measures it, against the server's own send timestamps."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from typing import Any

import aiohttp
import anyio
import pytest

from chatsim import TargetError
from chatsim.protocol._types import Message, Role
from chatsim.targets import AdapterReply, TargetRequest, TargetSettings
from chatsim.testing._faults import Fault, FaultKind
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_script import Latency, ReplyScript
from chatsim_openai import vllm_adapter
from chatsim_openai._fast import FastTransport
from chatsim_openai._stamps import _StampingHandler, stamping_installed

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("transport", ["fast", "sdk"])
async def test_first_token_follows_the_servers_send_time(transport: str) -> None:
    script = ReplyScript(lambda ctx: f"reply to {ctx.last_user_message}", latency=Latency.ms(5, 1))
    async with LoopbackServer(script, clock=time.perf_counter) as server:
        settings = TargetSettings(base_url=server.base_url, options={"transport": transport})
        adapter = vllm_adapter("m", settings)
        replies: dict[str, AdapterReply] = {}

        async def one(i: int) -> None:
            request = TargetRequest(messages=(Message(Role.USER, f"q{i}"),))
            replies[f"q{i}"] = await adapter.complete(request, now=time.perf_counter)

        try:
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(one, i)
        finally:
            await adapter.aclose()
        records = {r.body["messages"][0]["content"]: r for r in server.completion_requests}
    for key, reply in replies.items():
        record = records[key]
        assert record.first_token_sent_at is not None and reply.timing.first_token_at is not None
        assert record.sent_ttft is not None and record.sent_ttft >= 0.005
        lag = reply.timing.first_token_at - record.first_token_sent_at
        assert 0 <= lag < 0.25, f"client saw the first token {lag * 1000:.1f} ms after it was sent"


def _fast_adapter(server: LoopbackServer):  # type: ignore[no-untyped-def]
    return vllm_adapter("m", TargetSettings(base_url=server.base_url))


async def test_the_fast_transport_stamps_arrivals_with_the_installed_aiohttp() -> None:
    # The arrival stamps hook aiohttp's protocol factory (no public hook exists); an aiohttp
    # that moves it must fail here, not silently date first tokens late again.
    async with LoopbackServer("hi") as server:
        adapter = _fast_adapter(server)
        try:
            transport = adapter._transport
            assert isinstance(transport, FastTransport)
            request = TargetRequest(messages=(Message(Role.USER, "q"),))
            await adapter.complete(request, now=time.perf_counter)
            assert transport._sessions._session is not None
            assert stamping_installed(transport._sessions._session.connector)  # type: ignore[arg-type]
        finally:
            await adapter.aclose()


async def test_a_first_token_is_dated_when_it_arrived_not_when_a_busy_loop_got_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bytes carrying the first token arrive; before the reading task can resume, the loop
    # is busy for 150 ms (other streams' callbacks, in a real load test).
    received = _StampingHandler.data_received

    def busy_after(self: _StampingHandler, data: bytes) -> None:
        if b"hello" in data:
            asyncio.get_running_loop().call_soon(time.sleep, 0.15)  # runs before the reader
        received(self, data)

    monkeypatch.setattr(_StampingHandler, "data_received", busy_after)
    script = ReplyScript("hello world", latency=Latency.ms(20, 0))
    async with LoopbackServer(script, clock=time.perf_counter) as server:
        adapter = _fast_adapter(server)
        try:
            started = time.perf_counter()
            reply = await adapter.complete(
                TargetRequest(messages=(Message(Role.USER, "q"),)), now=time.perf_counter
            )
            ended = time.perf_counter()
        finally:
            await adapter.aclose()
        (record,) = server.completion_requests
    assert ended - started >= 0.15  # the loop was held up
    assert reply.timing.first_token_at is not None and record.first_token_sent_at is not None
    lag = reply.timing.first_token_at - record.first_token_sent_at
    assert 0 <= lag < 0.1, f"first token dated {lag * 1000:.1f} ms after the server sent it"
    # The reply's end too is its last bytes' arrival, not when the busy loop let us see it.
    assert reply.timing.ended_at is not None and record.ended_at is not None
    assert reply.timing.first_token_at <= reply.timing.ended_at < ended - 0.1
    assert reply.timing.ended_at - record.ended_at < 0.1


async def test_sent_at_is_the_wire_send_and_stamps_do_not_leak_across_a_kept_alive_connection() -> (
    None
):
    script = ReplyScript("hello world", latency=Latency.ms(30, 0))
    async with LoopbackServer(script, clock=time.perf_counter) as server:
        adapter = _fast_adapter(server)
        replies = []
        try:
            for i in range(3):  # one connection, reused
                started = time.perf_counter()
                request = TargetRequest(messages=(Message(Role.USER, f"q{i}"),))
                replies.append((started, await adapter.complete(request, now=time.perf_counter)))
        finally:
            await adapter.aclose()
        records = server.completion_requests
    for (started, reply), record in zip(replies, records, strict=True):
        assert reply.timing.sent_at is not None and reply.timing.first_token_at is not None
        assert started <= reply.timing.sent_at <= record.received_at
        # the scripted delay, never less
        assert reply.timing.first_token_at - reply.timing.sent_at >= 0.03


async def test_the_fast_transport_goes_through_the_environments_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Looked up once per endpoint (not per request, in threads, as aiohttp's trust_env does):
    # the target's host does not resolve; only the proxy can have answered.
    async with LoopbackServer("via the proxy") as proxy:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.base_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        adapter = vllm_adapter("m", TargetSettings(base_url="http://target.invalid:9/v1"))
        try:
            for _ in range(2):
                request = TargetRequest(messages=(Message(Role.USER, "q"),))
                reply = await adapter.complete(request, now=time.perf_counter)
                assert reply.text == "via the proxy"
        finally:
            await adapter.aclose()
        assert [r.headers["host"] for r in proxy.completion_requests] == ["target.invalid:9"] * 2


async def test_concurrent_first_calls_derive_the_endpoint_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import chatsim_openai._fast as fast

    derived: list[str] = []
    derive = fast.derive_endpoint

    async def counting(client: object, path: str, model: str) -> tuple[str, dict[str, str]]:
        derived.append(path)
        return await derive(client, path, model)

    monkeypatch.setattr(fast, "derive_endpoint", counting)
    async with LoopbackServer("hi") as server:
        adapter = _fast_adapter(server)
        try:
            async with anyio.create_task_group() as tg:
                for i in range(50):  # a load test's first wave: every user's first call at once
                    request = TargetRequest(messages=(Message(Role.USER, f"q{i}"),))
                    tg.start_soon(lambda r=request: adapter.complete(r, now=time.perf_counter))
        finally:
            await adapter.aclose()
        assert len(server.completion_requests) == 50
    assert derived == ["/chat/completions"]


@pytest.mark.parametrize("transport", ["fast", "sdk"])
async def test_a_stall_mid_stream_is_the_replys_longest_pause(transport: str) -> None:
    script = ReplyScript("one two three four", latency=Latency.ms(5, 2))
    async with LoopbackServer(script) as server:
        settings = TargetSettings(base_url=server.base_url, options={"transport": transport})
        adapter = vllm_adapter("m", settings)
        try:
            request = TargetRequest(messages=(Message(Role.USER, "q"),))
            smooth = await adapter.complete(request, now=time.perf_counter)
            server.inject(Fault(FaultKind.STALL, stall=0.25, after_chunks=2))
            stalled = await adapter.complete(request, now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert smooth.timing.max_token_gap is not None and smooth.timing.max_token_gap < 0.2
    assert stalled.timing.max_token_gap is not None and stalled.timing.max_token_gap >= 0.25
    assert stalled.text == smooth.text == "one two three four"


async def test_closed_connections_are_freed_without_the_cyclic_collector() -> None:
    # Arrival stamps point at body streams, which point back at the connection: the stamps
    # must go when a reply is done or its connection closes, or every closed connection would
    # wait for a full collection (rare under the run's GC policy). Streamed, whole and failed
    # replies, over connections the server closes after each reply.
    async with LoopbackServer("hi", extra_headers={"Connection": "close"}) as server:
        adapter = _fast_adapter(server)
        gc.collect()
        gc.disable()
        before = _alive(_StampingHandler)  # other tests' connections, still open
        try:
            for i in range(30):
                if i % 3 == 2:
                    server.inject("rate_limit")
                request = TargetRequest(messages=(Message(Role.USER, "q"),), stream=i % 2 == 0)
                with contextlib.suppress(TargetError):
                    await adapter.complete(request, now=time.perf_counter)
            await asyncio.sleep(0.05)  # let the transports report their closing
            alive = _alive(_StampingHandler) - before
        finally:
            gc.enable()
            await adapter.aclose()
    assert alive <= 1  # at most the connection still open


def _alive(kind: type) -> int:
    return sum(type(o) is kind for o in gc.get_objects())  # type(), not isinstance: no proxies


async def test_a_new_connections_handshake_is_timed_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow handshake (TLS with a loaded server, here a 150 ms stand-in) is reported as the
    # attempt's connect time, apart from the reply's time from send (as k6 does).
    connect = aiohttp.TCPConnector._create_direct_connection

    async def slow_handshake(self: aiohttp.TCPConnector, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.15)
        return await connect(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.TCPConnector, "_create_direct_connection", slow_handshake)
    script = ReplyScript("hello world", latency=Latency.ms(20, 0))
    async with LoopbackServer(script) as server:
        adapter = _fast_adapter(server)
        try:
            request = TargetRequest(messages=(Message(Role.USER, "q"),))
            new = await adapter.complete(request, now=time.perf_counter)
            kept = await adapter.complete(request, now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert new.timing.connect_time is not None and new.timing.connect_time >= 0.15
    assert kept.timing.connect_time is None  # the kept-alive connection
    for reply in (new, kept):
        assert reply.timing.sent_at is not None and reply.timing.first_token_at is not None
        assert 0.02 <= reply.timing.first_token_at - reply.timing.sent_at < 0.15
