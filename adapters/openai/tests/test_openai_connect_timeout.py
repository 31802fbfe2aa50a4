"""Connect timeouts are their own kind in both transports: never sent, so not "read timed out"."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
import openai
import pytest

from chatsim import TransientError
from chatsim.targets.kit import ConnectTimeoutError, LoopSession
from chatsim_openai._fast import FastTransport, _Endpoint
from chatsim_openai._sdk import SdkTransport

pytestmark = pytest.mark.anyio
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}


def _sdk(error: Exception) -> SdkTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    client = openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return SdkTransport(client, provider="openai")


async def test_sdk_connect_timeout_is_its_own_kind() -> None:
    with pytest.raises(ConnectTimeoutError, match="never sent"):
        await _sdk(httpx.ConnectTimeout("connect")).chat(BODY, now=lambda: 0.0)


async def test_sdk_read_timeout_stays_a_read_timeout() -> None:
    with pytest.raises(TransientError, match="read timed out") as caught:
        await _sdk(httpx.ReadTimeout("read")).chat(BODY, now=lambda: 0.0)
    assert not isinstance(caught.value, ConnectTimeoutError)


class _RaisingSession:
    closed = False

    def __init__(self, error: Exception) -> None:
        self.error = error

    def post(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def _fast(error: Exception) -> FastTransport:
    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    transport = FastTransport(client, provider="openai", model="m")
    transport._endpoints["/chat/completions"] = _Endpoint("http://127.0.0.1:9/v1", {}, None, None)
    transport._sessions = LoopSession(lambda: _RaisingSession(error))  # type: ignore[arg-type,return-value]
    return transport


async def test_fast_connect_timeout_is_its_own_kind() -> None:
    error = aiohttp.ConnectionTimeoutError("Connection timeout to host")
    with pytest.raises(ConnectTimeoutError, match="never sent"):
        await _fast(error).chat(BODY, now=lambda: 0.0)


async def test_fast_read_timeout_stays_a_read_timeout() -> None:
    with pytest.raises(TransientError, match="read timed out") as caught:
        await _fast(aiohttp.SocketTimeoutError("read")).chat(BODY, now=lambda: 0.0)
    assert not isinstance(caught.value, ConnectTimeoutError)
