"""The ``fast`` transport: ``POST /v1/messages`` over a shared aiohttp session, parsed by ``_sse``.

The SDK stays the single source of configuration: the URL (Bedrock's ``/anthropic`` prefix
included), auth and default headers are taken once from the request the configured SDK client
would build, through its own request pipeline. Only the send and the parse are ours, because
they are the hot path (``benchmarks/bench_adapters.py``). Static credentials only: both
profiles construct their clients with fixed keys, so headers derived once stay valid.

Timing is the SDK path's: the first text delta and the gaps are dated when the task reads
their bytes (one clock reading per read), ``ended_at`` at ``message_stop``; ``sent_at`` stays
None. (The OpenAI adapter dates bytes at their arrival on the socket; that machinery is
private to its distribution.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from chatsim import TargetError
from chatsim.recording import ReplyTiming
from chatsim.targets import AdapterReply
from chatsim.targets.kit import (
    LoopSession,
    connect_timeout_error,
    env_proxy,
    is_connect_timeout,
    keep_recorded_headers,
    request_id_of,
    sdk_timeout,
    transient_error,
)
from chatsim_anthropic._adapter import finish_reason_of
from chatsim_anthropic._errors import error_from_status, status_of_error_type
from chatsim_anthropic._sse import (
    MalformedReply,
    MessageStream,
    StreamErrorEvent,
    dumps,
    parse_message_body,
)

__all__ = ["FastTransport", "derive_endpoint"]

_PATH = "/v1/messages"
# Per-request or connection headers of the SDK's template request that must not be reused.
_DROP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "accept-encoding",
        "idempotency-key",
        "transfer-encoding",
        "x-stainless-timeout",
    }
)
_PARSE_ERRORS = (MalformedReply, ValueError, KeyError, TypeError, AttributeError, IndexError)


async def derive_endpoint(client: Any, model: str) -> tuple[str, dict[str, str]]:
    """``(url, headers)`` the SDK client would use for ``POST /v1/messages`` with ``model``."""
    from anthropic._models import FinalRequestOptions

    options = FinalRequestOptions.construct(method="post", url=_PATH, json_data={"model": model})
    options = await client._prepare_options(options)
    request = client._build_request(options)
    await client._prepare_request(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
    return str(request.url), headers


@dataclass(frozen=True, slots=True)
class _Endpoint:
    url: str
    headers: dict[str, str]
    proxy: URL | None
    proxy_auth: aiohttp.BasicAuth | None


class FastTransport:
    """One POST per attempt over a shared, keep-alive aiohttp session."""

    def __init__(self, client: Any, *, provider: str, model: str) -> None:
        self._client = client
        self._provider = provider
        self._model = model
        self._endpoint: _Endpoint | None = None
        self._derive_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._sessions = LoopSession(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
        return aiohttp.ClientSession(connector=connector, timeout=sdk_timeout(self._client.timeout))

    async def _endpoint_now(self) -> _Endpoint:
        if self._endpoint is not None:
            return self._endpoint
        # One derivation: without the lock, a load test's first wave derives it hundreds of times.
        loop = asyncio.get_running_loop()
        if self._derive_lock is None or self._derive_lock[0] is not loop:
            self._derive_lock = (loop, asyncio.Lock())
        async with self._derive_lock[1]:
            if self._endpoint is None:
                url, headers = await derive_endpoint(self._client, self._model)
                proxy, proxy_auth = await asyncio.to_thread(env_proxy, url)  # reads files
                self._endpoint = _Endpoint(url, headers, proxy, proxy_auth)
        return self._endpoint

    async def send(self, body: dict[str, Any], now: Callable[[], float]) -> AdapterReply:
        endpoint = await self._endpoint_now()
        session = self._sessions.get()
        kept: dict[str, str] = {}
        try:
            async with session.post(
                endpoint.url,
                data=dumps(body),
                headers=endpoint.headers,
                proxy=endpoint.proxy,
                proxy_auth=endpoint.proxy_auth,
            ) as resp:
                if resp.status >= 300:
                    raise error_from_status(
                        resp.status,
                        resp.headers.items(),
                        await resp.read(),
                        endpoint=endpoint.url,
                        model=self._model,
                        provider=self._provider,
                    )
                kept = keep_recorded_headers(resp.headers.items())
                if body.get("stream"):
                    return await self._streamed(resp, now, kept)
                text, reason, usage = parse_message_body(await resp.read())
                return _reply(text, reason, usage, ReplyTiming(), kept)
        except TargetError:
            raise
        except StreamErrorEvent as exc:  # classified as the status its type stands for
            error = exc.body.get("error")
            kind = error.get("type") if isinstance(error, dict) else None
            raise error_from_status(
                status_of_error_type(kind),
                kept.items(),
                exc.body,
                endpoint=endpoint.url,
                model=self._model,
                provider=self._provider,
            ) from exc
        except _PARSE_ERRORS as exc:
            raise self._transient(f"malformed reply: {exc}", kept) from exc
        except TimeoutError as exc:  # aiohttp's connect timeout is one too: never sent
            if is_connect_timeout(exc):
                raise connect_timeout_error(self._provider, headers=kept) from exc
            raise self._transient("read timed out", kept) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._transient(f"connection failed: {type(exc).__name__}: {exc}", kept) from exc

    async def _streamed(
        self, resp: aiohttp.ClientResponse, now: Callable[[], float], kept: dict[str, str]
    ) -> AdapterReply:
        stream = MessageStream(now)
        async for data in resp.content.iter_any():
            stream.feed(data)
        text, usage = stream.result()
        timing = ReplyTiming(
            first_token_at=stream.first_token_at,
            max_token_gap=stream.max_token_gap,
            ended_at=stream.ended_at,
        )
        return _reply(text, stream.stop_reason, usage, timing, kept)

    def _transient(self, what: str, kept: dict[str, str]) -> TargetError:
        return transient_error(self._provider, what, request_id=request_id_of(kept), headers=kept)

    async def aclose(self) -> None:
        await self._sessions.aclose()


def _reply(
    text: str, reason: str | None, usage: Any, timing: ReplyTiming, kept: dict[str, str]
) -> AdapterReply:
    return AdapterReply(
        text=text,
        usage=usage,
        timing=timing,
        finish_reason=finish_reason_of(reason),
        request_id=request_id_of(kept),
        headers=kept,
    )
