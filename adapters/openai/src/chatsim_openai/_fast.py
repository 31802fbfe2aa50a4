"""The ``fast`` transport: a shared aiohttp session and the minimal SSE reader.

The SDK stays the single source of configuration: the URL (Azure deployment path and
``api-version`` included), auth and default headers are taken once per endpoint from the
request the configured SDK client would build, through its own request pipeline. Only the
send and the parse are ours, because they are the hot path (see ``benchmarks/bench_transport.py``).
Static credentials only: the profiles construct clients with fixed keys, so headers derived
once stay valid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from chatsim._exceptions import TargetError
from chatsim._util._redact import keep_recorded_headers
from chatsim.targets._contract import AdapterReply
from chatsim_openai._errors import error_from_status, request_id_of, transient
from chatsim_openai._sse import ChatStream, MalformedReply, dumps, parse_chat_body

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


def _client_timeout(client: Any) -> aiohttp.ClientTimeout:
    """The SDK client's connect/read timeouts; the core's per-attempt deadline sits above."""
    timeout = client.timeout
    if timeout is None:
        return aiohttp.ClientTimeout(total=None)
    if isinstance(timeout, int | float):
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    return aiohttp.ClientTimeout(
        total=None,
        sock_connect=getattr(timeout, "connect", None),
        sock_read=getattr(timeout, "read", None),
    )


class FastTransport:
    """One POST per attempt over a shared, keep-alive aiohttp session."""

    def __init__(self, client: Any, *, provider: str, model: str) -> None:
        self._client = client
        self._provider = provider
        self._model = model
        self._endpoints: dict[str, tuple[str, dict[str, str]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            # Created lazily: aiohttp sessions belong to the loop that runs them.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=_client_timeout(self._client),
                trust_env=True,  # honour HTTP(S)_PROXY as the SDK transport does
            )
            self._loop = loop
        return self._session

    async def _endpoint(self, path: str) -> tuple[str, dict[str, str]]:
        found = self._endpoints.get(path)
        if found is None:
            found = self._endpoints[path] = await derive_endpoint(self._client, path, self._model)
        return found

    async def chat(self, body: dict[str, Any], now: Callable[[], float]) -> AdapterReply:
        url, headers = await self._endpoint("/chat/completions")
        session = self._session_now()
        payload = dumps(body)
        provider = self._provider
        kept: dict[str, str] = {}
        try:
            async with session.post(url, data=payload, headers=headers) as resp:
                if resp.status >= 300:
                    raise error_from_status(
                        resp.status, resp.headers.items(), await resp.read(), provider=provider
                    )
                kept = keep_recorded_headers(resp.headers.items())
                if body.get("stream"):
                    stream = ChatStream(now)
                    async for data in resp.content.iter_any():
                        stream.feed(data)
                    text = stream.result()
                    reason, usage, first = stream.finish_reason, stream.usage, stream.first_token_at
                else:
                    text, reason, usage = parse_chat_body(await resp.read())
                    first = None
        except TargetError:
            raise
        except _PARSE_ERRORS as exc:
            raise self._transient(f"malformed reply: {exc}", kept) from exc
        except TimeoutError as exc:
            raise self._transient("read timed out", kept) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._transient(f"connection failed: {type(exc).__name__}: {exc}", kept) from exc
        return AdapterReply(
            text=text,
            usage=usage,
            first_token_at=first,
            finish_reason=reason,
            request_id=request_id_of(kept),
            headers=kept,
        )

    def _transient(self, what: str, kept: dict[str, str]) -> TargetError:
        return transient(self._provider, what, request_id=request_id_of(kept), headers=kept)

    def describe(self) -> str:
        return "fast"

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
