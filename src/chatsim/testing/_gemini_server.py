"""A server speaking the Gemini REST API on loopback, scripted like ``chatsim.testing``'s.

    async with GeminiLoopbackServer(ReplyScript("Hi!", latency=Latency.ms(5, 1))) as server:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.base_url))
        ...
        server.inject(Fault(FaultKind.RATE_LIMIT, retry_after=2))

Endpoints, each ``:generateContent`` and ``:streamGenerateContent?alt=sse`` (``data:
{GenerateContentResponse}`` events, the last one with ``finishReason`` and ``usageMetadata``):

- the Gemini API: ``POST /v1beta/models/{model}`` (also ``v1``, ``v1alpha``); the key is read
  from the ``x-goog-api-key`` header or the ``key`` query parameter;
- Vertex AI: ``POST /v1beta1/projects/{project}/locations/{location}/publishers/google/models/
  {model}`` (also ``v1``), authenticated as Vertex is, by an OAuth 2 access token in
  ``Authorization: Bearer`` (the server's ``api_key`` stands for the one valid token); a
  request without one is a 401 UNAUTHENTICATED;
- Vertex AI express mode: ``POST /v1beta1/publishers/google/models/{model}``, with an API key
  as on the Gemini API.

Errors are ``google.rpc.Status`` envelopes (``{"error": {"code", "message", "status"}}``; a 429
adds a ``RetryInfo`` detail and keeps ``Retry-After``). As the real API does, a body without
``contents``, or whose first content's role is not ``user``, is refused with a 400
INVALID_ARGUMENT (and a ``BadRequest`` detail) before anything is generated; so is an API
version the service does not serve (404).

It is a translating front: each request is answered by an OpenAI-protocol
``chatsim.testing.LoopbackServer`` behind it (its ``upstream``), so replies, latencies
(``ReplyScript``, ``Latency``), faults (``FaultPlan``: 429 in each Retry-After form, 5xx, resets,
cut streams, malformed JSON and events, empty candidates, stalls), capacity and the recorded
requests are that server's. ``GeminiLoopbackServer(upstream=server)`` fronts a server that
something else owns (the conformance suite's). Built on aiohttp; runs on asyncio.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from chatsim.testing import _gemini_wire as _wire
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_base import AiohttpServer
from chatsim.testing._server_handlers import ServerStats
from chatsim.testing._server_replies import reset_connection
from chatsim.testing._server_script import ReplyScript

__all__ = ["GeminiLoopbackServer", "GeminiRequest"]

_PASSED_HEADERS = ("x-request-id", "retry-after", "retry-after-ms")
#: The API versions each service answers (others are a 404, as a wrong path is).
_GEMINI_VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})
_VERTEX_VERSIONS = frozenset({"v1", "v1beta1"})
_METHODS = ("generateContent", "streamGenerateContent")


@dataclass(slots=True)
class GeminiRequest:
    """One request as the Gemini front received it (before translation)."""

    model: str
    method: str
    """``generateContent`` or ``streamGenerateContent``."""
    query: dict[str, str]
    body: Any
    """The parsed JSON body, in Gemini's form (``contents``, ``generationConfig``, ...)."""
    key_presented: bool
    """Whether an API key came (header or query); the key itself is not kept."""
    key_header: bool
    """Whether it came in the ``x-goog-api-key`` header."""
    bearer: bool = False
    """Whether an access token came in ``Authorization: Bearer`` (Vertex AI's credential)."""
    project: str | None = None
    """The Vertex AI project of the path (None: the Gemini API or express mode)."""
    location: str | None = None
    """The Vertex AI location of the path (``global``, ``us-central1``, ...)."""
    version: str = "v1beta"
    """The API version of the path (``v1beta``; ``v1beta1`` on Vertex AI)."""
    service: str = "gemini"
    """``gemini``, ``vertex`` (a projects/locations path) or ``vertex-express``."""

    @property
    def stream(self) -> bool:
        return self.method == "streamGenerateContent"


def _passed(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in headers.items()
        if k.lower() in _PASSED_HEADERS or k.lower().startswith("x-ratelimit-")
    }


def _message_of(raw: bytes) -> str:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return json.dumps(parsed)


class GeminiLoopbackServer(AiohttpServer):
    """The Gemini API on 127.0.0.1 (``port=0``: an ephemeral port); see the module docstring.

    ``script``, ``faults``, ``api_key`` and any other keyword of ``LoopbackServer`` configure
    the upstream server this one starts and owns; ``upstream`` fronts an existing one instead.
    """

    def __init__(
        self,
        script: ReplyScript | str | None = None,
        *,
        faults: FaultPlan | None = None,
        api_key: str | None = None,
        upstream: LoopbackServer | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        **upstream_options: Any,
    ) -> None:
        self._owns_upstream = upstream is None
        self.upstream = upstream or LoopbackServer(
            script, faults=faults, api_key=api_key, **upstream_options
        )
        super().__init__(host=host, port=port)
        self.requests: list[GeminiRequest] = []
        """Requests as received, oldest first."""
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        vertex = "/{version}/projects/{project}/locations/{location}/publishers/google/models"
        return [
            web.post("/{version}/models/{name}", self._generate),
            web.post(vertex + "/{name}", self._generate),
            web.post("/{version}/publishers/google/models/{name}", self._generate),
        ]

    async def _on_start(self) -> None:
        """Start the upstream (when owned) and the session that talks to it."""
        if self._owns_upstream:
            await self.upstream.start()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), trust_env=False
        )

    async def _on_close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        if self._owns_upstream:
            await self.upstream.close()

    # -- what tests read ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/``: the SDK's ``HttpOptions.base_url`` (no API version)."""
        return f"{self.root_url}/"

    @property
    def api_key(self) -> str | None:
        """The key the server demands (the upstream's), or None for any."""
        key: str | None = getattr(self.upstream, "api_key", None)
        return key

    @property
    def stats(self) -> ServerStats:
        return self.upstream.stats

    def inject(self, fault: Fault | FaultKind | str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests (the upstream's ``FaultPlan``)."""
        self.upstream.inject(fault, times)

    # -- the handler -------------------------------------------------------------------------

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        found = await self._received(request)
        if isinstance(found, web.Response):
            return found
        self.requests.append(found)
        key = self._credential(request, found)
        upstream_body = _wire.openai_body(found.model, found.body, stream=found.stream)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        assert self._session is not None
        url = f"{self.upstream.base_url}/chat/completions"
        messages = _wire.VERTEX_MESSAGES if found.service == "vertex" else _wire.MESSAGES
        try:
            async with self._session.post(url, json=upstream_body, headers=headers) as reply:
                if reply.status != 200:
                    return await self._upstream_error(reply, messages)
                if found.stream:
                    return await self._stream(request, reply, found.model)
                return await self._whole(reply, found.model)
        except (aiohttp.ClientError, OSError):
            reset_connection(request)
            return web.Response()

    async def _received(self, request: web.Request) -> GeminiRequest | web.Response:
        """The request as the front reads it, or the error the real service would answer
        before generating (unknown method or version, missing token, malformed contents)."""
        info = request.match_info
        model, _, method = info["name"].partition(":")
        project = info.get("project")
        service = "vertex" if project else "gemini"
        if "/publishers/" in request.path and not project:
            service = "vertex-express"
        versions = _GEMINI_VERSIONS if service == "gemini" else _VERTEX_VERSIONS
        if info["version"] not in versions:
            return self._error(404, f"API version {info['version']!r} is not served here.")
        if method not in _METHODS:
            return self._error(404, f"Method {method!r} is not found for models.")
        stream = method == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            return self._error(400, "This server streams only server-sent events (alt=sse).")
        auth = request.headers.get("Authorization", "")
        bearer = auth.startswith("Bearer ") and bool(auth.removeprefix("Bearer ").strip())
        if service == "vertex" and not bearer:
            return self._error(401, _wire.VERTEX_MISSING_TOKEN)
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "Invalid JSON payload received.")
        if not isinstance(body, dict):
            return self._error(400, "Invalid JSON payload received: not an object.")
        refusal = _wire.refusal_of(body)
        if refusal is not None:
            field, description = refusal
            message = f"* GenerateContentRequest.{field}: {description}\n"
            return self._error(400, message, violation=refusal)
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        return GeminiRequest(
            model,
            method,
            dict(request.query),
            body,
            bool(key),
            "x-goog-api-key" in request.headers,
            bearer=bearer,
            project=project,
            location=info.get("location"),
            version=info["version"],
            service=service,
        )

    @staticmethod
    def _credential(request: web.Request, found: GeminiRequest) -> str | None:
        """What the upstream checks against its ``api_key``: the bearer token on Vertex AI's
        project paths, else the API key."""
        if found.service == "vertex":
            return request.headers["Authorization"].removeprefix("Bearer ").strip()
        return request.headers.get("x-goog-api-key") or request.query.get("key")

    @staticmethod
    def _error(
        status: int, message: str, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> web.Response:
        return web.Response(
            status=status,
            body=_wire.error_body(status, message, **kw),
            content_type="application/json",
            headers=dict(headers or {}),
        )

    async def _upstream_error(
        self, reply: aiohttp.ClientResponse, messages: Mapping[int, str]
    ) -> web.Response:
        message = messages.get(reply.status) or _message_of(await reply.read())
        headers = _passed(reply.headers)
        delay: float | None = None
        with contextlib.suppress(ValueError):
            delay = float(reply.headers.get("retry-after", ""))
        return self._error(reply.status, message, headers, retry_delay=delay)

    async def _whole(self, reply: aiohttp.ClientResponse, model: str) -> web.Response:
        raw = await reply.read()
        headers = _passed(reply.headers)
        try:
            completion = json.loads(raw)
        except ValueError:  # a malformed body stays malformed
            return web.Response(body=raw, content_type="application/json", headers=headers)
        response_id = reply.headers.get("x-request-id", "")
        answer = _wire.reply_of_completion(model, response_id, completion)
        return web.Response(
            body=_wire.dumps(answer), content_type="application/json", headers=headers
        )

    async def _stream(
        self, request: web.Request, reply: aiohttp.ClientResponse, model: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers=_passed(reply.headers))
        response.content_type = "text/event-stream"
        await response.prepare(request)
        response_id = reply.headers.get("x-request-id", "")
        finish: str | None = None
        usage: Any = None
        try:
            async for raw_line in reply.content:
                line = raw_line.strip()
                if not line:
                    continue
                if not line.startswith(b"data:"):
                    await response.write(line + b"\r\n")  # stray text stays stray
                    continue
                payload = line[len(b"data:") :].strip()
                if payload == b"[DONE]":
                    if finish is not None:
                        await response.write(_wire.final_event(model, response_id, finish, usage))
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    await response.write(b"data: " + payload + b"\r\n\r\n")
                    continue
                choices = chunk.get("choices") or []
                if choices and choices[0].get("finish_reason"):
                    finish = choices[0]["finish_reason"]
                if chunk.get("usage") is not None:
                    usage = chunk["usage"]
                out = _wire.reply_of_chunk(model, response_id, chunk)
                if out is not None:
                    await response.write(_wire.event(out))
        except (aiohttp.ClientError, OSError):  # the upstream cut the stream: so do we
            reset_connection(request)
            return response
        await response.write_eof()
        return response
