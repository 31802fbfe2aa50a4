"""The ``fast`` transport: a shared aiohttp session and the minimal SSE reader.

The SDK stays the single source of configuration: the URL (Azure deployment path and
``api-version`` included), auth and default headers are taken once per endpoint from the
request the configured SDK client would build, through its own request pipeline. Only the
send and the parse are ours, because they are the hot path (see ``benchmarks/bench_transport.py``),
and so are the timestamps, taken where the bytes leave and arrive (``_stamps``).
Static credentials only: the profiles construct clients with fixed keys, so headers derived
once stay valid.
"""

from __future__ import annotations

import asyncio
import time
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
from chatsim_openai._errors import error_from_status
from chatsim_openai._sse import ChatStream, MalformedReply, dumps, parse_chat_body
from chatsim_openai._stamps import (
    SendStamp,
    arrival_of,
    drop_arrival,
    send_tracing,
    stamping_connector,
    to_clock,
)

__all__ = ["FastTransport", "derive_endpoint"]

# Per-request or connection headers of the SDK's template request that must not be reused.
_DROP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "accept-encoding",
        "idempotency-key",
        "transfer-encoding",
    }
)
_SEND_TRACING = send_tracing()
_perf = time.perf_counter
_PARSE_ERRORS = (MalformedReply, ValueError, KeyError, TypeError, AttributeError, IndexError)


async def derive_endpoint(client: Any, path: str, model: str) -> tuple[str, dict[str, str]]:
    """``(url, headers)`` the SDK client would use for ``POST path`` with ``model``."""
    from openai._models import FinalRequestOptions

    options = FinalRequestOptions.construct(method="post", url=path, json_data={"model": model})
    options = await client._prepare_options(options)
    request = client._build_request(options)
    prepare = getattr(client, "_prepare_request", None)
    if prepare is not None:
        await prepare(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
    return str(request.url), headers


@dataclass(frozen=True, slots=True)
class _Endpoint:
    url: str
    headers: dict[str, str]
    proxy: URL | None
    proxy_auth: aiohttp.BasicAuth | None


class FastTransport:
    """One POST per attempt over a shared, keep-alive aiohttp session.

    Proxies from the environment are looked up once per endpoint, not per request: aiohttp's
    ``trust_env`` does it per request in worker threads (the proxy and, with no ``auth``, a
    ``.netrc`` read), two thread hops that under load cost more CPU than the rest of the
    request and delayed sends by milliseconds (``benchmarks/bench_timing.py``); a ``.netrc``
    entry for the host would also have clashed with the SDK's ``Authorization`` header.
    """

    def __init__(self, client: Any, *, provider: str, model: str) -> None:
        self._client = client
        self._provider = provider
        self._model = model
        self._endpoints: dict[str, _Endpoint] = {}
        self._derive_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._sessions = LoopSession(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=stamping_connector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            timeout=sdk_timeout(self._client.timeout),
            trace_configs=[_SEND_TRACING],
        )

    async def _endpoint(self, path: str) -> _Endpoint:
        found = self._endpoints.get(path)
        if found is not None:
            return found
        # One derivation per endpoint: without the lock, the first wave of a load test (every
        # user's first call at once) derived it hundreds of times.
        loop = asyncio.get_running_loop()
        if self._derive_lock is None or self._derive_lock[0] is not loop:
            self._derive_lock = (loop, asyncio.Lock())
        async with self._derive_lock[1]:
            found = self._endpoints.get(path)
            if found is None:
                url, headers = await derive_endpoint(self._client, path, self._model)
                proxy, proxy_auth = await asyncio.to_thread(env_proxy, url)  # reads files
                found = self._endpoints[path] = _Endpoint(url, headers, proxy, proxy_auth)
        return found

    async def chat(self, body: dict[str, Any], now: Callable[[], float]) -> AdapterReply:
        endpoint = await self._endpoint("/chat/completions")
        session = self._sessions.get()
        payload = dumps(body)
        provider = self._provider
        kept: dict[str, str] = {}
        began = now()
        stamp = SendStamp()
        last: float | None = None  # perf time the reply's last bytes arrived
        try:
            async with session.post(
                endpoint.url,
                data=payload,
                headers=endpoint.headers,
                proxy=endpoint.proxy,
                proxy_auth=endpoint.proxy_auth,
                trace_request_ctx=stamp,
            ) as resp:
                try:
                    if resp.status >= 300:
                        raise error_from_status(
                            resp.status,
                            resp.headers.items(),
                            await resp.read(),
                            provider=provider,
                            endpoint=endpoint.url,
                            model=self._model,
                        )
                    kept = keep_recorded_headers(resp.headers.items())
                    if body.get("stream"):
                        stream = ChatStream(now)
                        async for data in resp.content.iter_any():
                            perf = arrival_of(resp)  # date content by its bytes' arrival
                            arrived = None
                            if perf is not None:
                                last = perf
                                arrived = to_clock(perf, now(), _perf())
                            stream.feed(data, arrived)
                        text = stream.result()
                        reason, usage = stream.finish_reason, stream.usage
                        first, gap = stream.first_token_at, stream.max_token_gap
                    else:
                        text, reason, usage = parse_chat_body(await resp.read())
                        first = gap = None
                finally:
                    drop_arrival(resp)
        except TargetError:
            raise
        except _PARSE_ERRORS as exc:
            raise self._transient(f"malformed reply: {exc}", kept) from exc
        except TimeoutError as exc:  # aiohttp's connect timeout is one too: never sent
            if is_connect_timeout(exc):
                raise connect_timeout_error(provider, headers=kept) from exc
            raise self._transient("read timed out", kept) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._transient(f"connection failed: {type(exc).__name__}: {exc}", kept) from exc
        clock_now, perf_now = now(), _perf()
        sent = began
        if stamp.sent is not None:  # clamped: fake clocks must keep the order
            sent = max(began, to_clock(stamp.sent, clock_now, perf_now))
        if first is not None:
            first = max(first, sent)
        ended = None
        if last is not None and first is not None:
            ended = min(clock_now, max(first, to_clock(last, clock_now, perf_now)))
        return AdapterReply(
            text=text,
            usage=usage,
            timing=ReplyTiming(
                sent_at=sent,
                connect_time=stamp.connect_time,
                first_token_at=first,
                max_token_gap=gap,
                ended_at=ended,
            ),
            finish_reason=reason,
            request_id=request_id_of(kept),
            headers=kept,
        )

    def _transient(self, what: str, kept: dict[str, str]) -> TargetError:
        return transient_error(self._provider, what, request_id=request_id_of(kept), headers=kept)

    def describe(self) -> str:
        return "fast"

    async def aclose(self) -> None:
        await self._sessions.aclose()
