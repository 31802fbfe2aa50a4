"""Every fault the loopback server injects is observable on the wire."""

from __future__ import annotations

import email.utils
import json
import time

import aiohttp
import anyio
import pytest

from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_script import Latency, ReplyScript

pytestmark = pytest.mark.anyio

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**BODY, "stream": True}
REPLY = ReplyScript("one two three four", latency=Latency())


async def post(
    http: aiohttp.ClientSession, server: LoopbackServer, body: object
) -> tuple[int, dict[str, str], bytes]:
    async with http.post(f"{server.base_url}/chat/completions", json=body) as resp:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return resp.status, headers, await resp.read()


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (FaultKind.SERVER_ERROR, 500, None),
        (FaultKind.BAD_GATEWAY, 502, 502),
        (FaultKind.SERVICE_UNAVAILABLE, 503, None),
        (FaultKind.GATEWAY_TIMEOUT, 504, 504),
        (FaultKind.CONTEXT_LENGTH, 400, "context_length_exceeded"),
        (FaultKind.UNAUTHORIZED, 401, "invalid_api_key"),
    ],
)
async def test_status_faults(
    http: aiohttp.ClientSession, kind: FaultKind, status: int, code: object
) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(kind)
        got, headers, body = await post(http, server, STREAM)
        error = json.loads(body)["error"]
        assert (got, error["code"]) == (status, code)
        assert set(error) == {"message", "type", "param", "code"}
        assert headers["x-request-id"] == server.requests[0].request_id
        assert server.requests[0].fault is kind
        assert (await post(http, server, BODY))[0] == 200  # one-shot


async def test_http_error_any_status(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=404))
        status, _, body = await post(http, server, BODY)
    assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found"


async def test_rate_limit_forms(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.RATE_LIMIT, retry_after=2))
        server.inject(Fault(FaultKind.RATE_LIMIT_MS, retry_after=1.5))
        server.inject(Fault(FaultKind.RATE_LIMIT_DATE, retry_after=3))
        seconds = await post(http, server, BODY)
        millis = await post(http, server, BODY)
        dated = await post(http, server, BODY)
    assert seconds[0] == millis[0] == dated[0] == 429
    assert seconds[1]["retry-after"] == "2"
    assert millis[1]["retry-after-ms"] == "1500"
    when = email.utils.parsedate_to_datetime(dated[1]["retry-after"]).timestamp()
    assert 2 <= when - time.time() <= 4.5
    assert json.loads(seconds[2])["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("body", [BODY, STREAM])
async def test_reset_before_response(http: aiohttp.ClientSession, body: object) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(FaultKind.RESET)
        with pytest.raises(aiohttp.ClientOSError):
            await post(http, server, body)
        assert server.requests[0].status is None
        assert (await post(http, server, BODY))[0] == 200  # the server carries on


async def test_reset_mid_stream(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.RESET_MID_STREAM, after_chunks=2))
        received = b""
        async with http.post(f"{server.base_url}/chat/completions", json=STREAM) as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):  # noqa: PT012 - a loop of reads
                async for data in resp.content.iter_any():
                    received += data
    assert b'"content":"one"' in received and b'" two"' in received
    assert b'" three"' not in received and b"[DONE]" not in received


async def test_stall_holds_the_response(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.STALL, stall=5.0))
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.05):
                await post(http, server, BODY)
        server.inject(Fault(FaultKind.STALL, stall=0.01))
        assert (await post(http, server, BODY))[0] == 200  # short stalls then answer


async def test_stall_mid_stream(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.STALL, stall=5.0, after_chunks=1))
        received = b""
        with pytest.raises(TimeoutError), anyio.fail_after(0.1):  # noqa: PT012 - one streamed read
            async with http.post(f"{server.base_url}/chat/completions", json=STREAM) as resp:
                async for data in resp.content.iter_any():
                    received += data
    assert b'"content":"one"' in received and b"two" not in received


async def test_malformed_json(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(FaultKind.MALFORMED_JSON)
        status, _, body = await post(http, server, BODY)
        assert status == 200
        with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
            json.loads(body)
        server.inject(FaultKind.MALFORMED_JSON)
        _, _, streamed = await post(http, server, STREAM)
    events = [e[len(b"data: ") :] for e in streamed.split(b"\n\n") if e]
    json.loads(events[0])  # role chunk
    json.loads(events[1])  # first content chunk
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(events[2])
    assert b"[DONE]" not in streamed


async def test_malformed_sse(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(FaultKind.MALFORMED_SSE)
        _, _, streamed = await post(http, server, STREAM)
        server.inject(FaultKind.MALFORMED_SSE)
        status, _, whole = await post(http, server, BODY)
    assert (
        b"<html>" in streamed
        and b"[DONE]" not in streamed
        and b'finish_reason":"stop' not in streamed
    )
    assert status == 200 and whole.startswith(b"<html>")


async def test_empty_choices(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(FaultKind.EMPTY_CHOICES)
        _, _, whole = await post(http, server, BODY)
        server.inject(FaultKind.EMPTY_CHOICES)
        _, _, streamed = await post(http, server, STREAM)
    assert json.loads(whole)["choices"] == []
    events = [e[len(b"data: ") :] for e in streamed.split(b"\n\n") if e]
    assert events[-1] == b"[DONE]"
    assert all(json.loads(e)["choices"] == [] for e in events[:-1])


async def test_faults_filtered_by_model_and_endpoint(http: aiohttp.ClientSession) -> None:
    async with LoopbackServer(REPLY) as server:
        server.inject(Fault(FaultKind.SERVER_ERROR, model="target"), times=2)
        server.inject(Fault(FaultKind.BAD_GATEWAY, endpoint="completions"))
        assert (await post(http, server, BODY))[0] == 200  # model "m" is not hit
        assert (await post(http, server, {**BODY, "model": "target"}))[0] == 500
        async with http.post(
            f"{server.base_url}/completions", json={"model": "sim", "prompt": "x"}
        ) as resp:
            assert resp.status == 502
        assert server.faults.pending == 1
        assert server.faults.injected == {FaultKind.SERVER_ERROR: 1, FaultKind.BAD_GATEWAY: 1}


async def test_random_faults_are_seeded(http: aiohttp.ClientSession) -> None:
    async def run(seed: int) -> list[int]:
        plan = FaultPlan({FaultKind.SERVER_ERROR: 0.3, FaultKind.RATE_LIMIT: 0.2}, seed=seed)
        async with LoopbackServer(REPLY, faults=plan) as server:
            return [(await post(http, server, BODY))[0] for _ in range(30)]

    first, again, other = await run(1), await run(1), await run(2)
    assert first == again and first != other
    assert {200, 429, 500} == set(first)


def test_fault_plan_validates_rates() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan({FaultKind.RESET: 0.7, FaultKind.STALL: 0.5})
    with pytest.raises(ValueError, match=">= 0"):
        FaultPlan({FaultKind.RESET: -0.1})
    with pytest.raises(ValueError, match="no_such_fault"):
        Fault("no_such_fault")  # type: ignore[arg-type]
