"""The ``fast`` transport: one POST per attempt over a shared aiohttp session, parsed by ``_wire``.

Chosen by measurement (``benchmarks/bench_adapters.py --only gemini``; figures in the README):
the SDK's per-call CPU is in building its pydantic request, parsing every chunk into pydantic
responses and its HTTP client. The SDK stays the source of configuration and errors: the
headers (API key, ``x-goog-api-client``, the settings' default headers) are taken once from the
request the configured client would build, bodies with ``extra`` fields come from its
converter, and error replies are mapped as its ``APIError`` is (``_errors.error_from_status``).
Vertex AI's bearer token comes from the profile's google-auth credentials (``BearerAuth``).

Timing as the SDK transport: the first token is dated at the read that carried the first text
delta, the end after the last read. No retries, no continuation of a cut stream: the core owns
both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
    error_for_status,
    is_connect_timeout,
    keep_recorded_headers,
    request_id_of,
    sdk_timeout,
    transient_error,
)
from chatsim_gemini._errors import error_from_status
from chatsim_gemini._vertex_auth import BearerAuth
from chatsim_gemini._wire import GeminiStream, MalformedReply, Reply, dumps, finish_reason_of, loads

__all__ = ["FastTransport", "sdk_headers"]

_PARSE_ERRORS = (MalformedReply, ValueError, KeyError, TypeError, AttributeError, IndexError)
_DROP = frozenset({"host", "content-length", "connection", "accept-encoding"})


def sdk_headers(client: Any) -> dict[str, str]:
    """The headers the configured ``genai.Client`` sends with every request (its key,
    version headers, default headers); Vertex AI's bearer token is added per request."""
    request = client._api_client._build_request("post", "models/m:generateContent", {}, None)
    return {k: v for k, v in request.headers.items() if k.lower() not in _DROP}


class FastTransport:
    """Sends one ``generateContent`` / ``streamGenerateContent?alt=sse`` per attempt."""

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        headers: dict[str, str],
        auth: BearerAuth | None,
        timeout: float | None,
    ) -> None:
        self._provider = provider
        self._model = model
        self._headers = headers
        self._auth = auth
        self._timeout = sdk_timeout(timeout)
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}
        self._sessions = LoopSession(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        # A plain ClientSession, so nothing trips aiohttp's warning about subclasses.
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
        return aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    async def _proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The environment's proxy for ``url`` (as the SDK's ``trust_env``), looked up once:
        aiohttp's own ``trust_env`` does it per request in worker threads."""
        found = self._proxies.get(url)
        if found is None:
            found = self._proxies[url] = await asyncio.to_thread(env_proxy, url)
        return found

    async def send(
        self, url: str, body: dict[str, Any], *, stream: bool, now: Callable[[], float]
    ) -> AdapterReply:
        headers = self._headers
        if self._auth is not None:
            headers = {**headers, **await self._auth.headers()}
        proxy, proxy_auth = await self._proxy(url)
        session = self._sessions.get()
        kept: dict[str, str] = {}
        try:
            async with session.post(
                f"{url}?alt=sse" if stream else url,
                data=dumps(body),
                headers=headers,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as resp:
                if resp.status >= 300:
                    raise self._status_error(resp.status, await resp.read(), resp, url)
                kept = keep_recorded_headers(resp.headers.items())
                if stream:
                    parsed = GeminiStream(now)
                    async for data in resp.content.iter_any():
                        parsed.feed(data)
                    text = parsed.finish()
                    reply = parsed.reply
                    timing = ReplyTiming(
                        first_token_at=parsed.first_token_at,
                        max_token_gap=parsed.max_token_gap,
                        ended_at=now(),
                    )
                else:
                    reply = Reply()
                    text = reply.take(loads(await resp.read()))
                    timing = ReplyTiming(ended_at=now())
        except TargetError:
            raise
        except _PARSE_ERRORS as exc:
            raise self._transient(f"malformed reply: {exc}", kept) from exc
        except TimeoutError as exc:  # aiohttp's connect timeout is one too: never sent
            if is_connect_timeout(exc):
                raise connect_timeout_error(self._provider, headers=kept) from exc
            raise self._transient("read timed out", kept) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._transient(f"connection failed: {type(exc).__name__}: {exc}", kept) from exc
        return self._checked(reply, text, kept, timing, url, stream=stream)

    def _checked(
        self,
        reply: Reply,
        text: str,
        kept: dict[str, str],
        timing: ReplyTiming,
        url: str,
        *,
        stream: bool,
    ) -> AdapterReply:
        """The reply, or the error its content stands for (the SDK transport's checks)."""
        request_id = request_id_of(kept) or reply.response_id
        if reply.error is not None:  # an error event in the stream
            status = int(reply.error.get("code") or 500)
            raise error_from_status(
                status, {"error": reply.error}, kept.items(), endpoint=url,
                provider=self._provider, model=self._model,
            )  # fmt: skip
        if reply.events == 0:
            raise self._transient("the stream carried no events", kept)
        if reply.blocked is not None:
            raise error_for_status(
                200,
                "the prompt was blocked (promptFeedback.blockReason)",
                headers=kept,
                code=reply.blocked,
                request_id=request_id,
                provider=self._provider,
                endpoint=url,
                model=self._model,
            )
        if not reply.candidates:
            raise self._transient("the reply carried no candidates", kept)
        if stream and reply.reason is None:  # Gemini streams end without a marker
            raise self._transient("the stream ended before the reply finished", kept)
        return AdapterReply(
            text=text,
            usage=reply.usage,
            timing=timing,
            finish_reason=finish_reason_of(reply.reason),
            request_id=request_id,
            headers=kept,
        )

    def _status_error(
        self, status: int, raw: bytes, resp: aiohttp.ClientResponse, url: str
    ) -> TargetError:
        try:
            body: Any = loads(raw)
        except ValueError:
            body = {"error": {"message": raw.decode("utf-8", "replace")[:500]}}
        return error_from_status(
            status, body, resp.headers.items(), endpoint=url,
            provider=self._provider, model=self._model,
        )  # fmt: skip

    def _transient(self, what: str, kept: dict[str, str]) -> TargetError:
        return transient_error(self._provider, what, request_id=request_id_of(kept), headers=kept)

    async def aclose(self) -> None:
        await self._sessions.aclose()
