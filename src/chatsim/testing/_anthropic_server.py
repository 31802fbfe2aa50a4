"""A Messages API server on loopback, for testing Anthropic targets without the network.

    async with AnthropicLoopbackServer(ReplyScript("Hi!", latency=Latency.ms(5, 1))) as server:
        client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["max_tokens"] == 1024

``POST /v1/messages`` (and ``/anthropic/v1/messages``, where Amazon Bedrock's Anthropic-native
endpoint serves it: ``bedrock_base_url``), streamed or not, in Anthropic's wire format
(``_anthropic_wire``); replies carry a ``request-id`` header. Scripted like ``LoopbackServer``,
with ``ReplyScript`` (replies, latency), ``FaultPlan`` / ``Fault`` / ``FaultKind`` (faults), and
recorded as ``RecordedRequest`` (``endpoint="messages"``). The fault kinds, in Anthropic's terms:

- status kinds answer that status with Anthropic's error body (``RATE_LIMIT*``: 429
  ``rate_limit_error`` with the hint in each ``Retry-After`` form; ``CONTEXT_LENGTH``: 400
  ``prompt is too long``; ``UNAUTHORIZED``: 401); ``Fault(HTTP_ERROR, status=529)`` is
  ``overloaded_error`` with ``retry-after``; with ``after_chunks`` set on a stream, an
  ``HTTP_ERROR`` is an ``error`` event after that many deltas instead (overloaded mid-stream);
- ``RESET``, ``RESET_MID_STREAM``, ``STALL`` as in ``chatsim.testing``;
- ``MALFORMED_JSON``: an event whose data is cut-off JSON (whole: a cut-off body);
- ``MALFORMED_SSE``: the stream turns into an HTML page (whole: an HTML 200);
- ``EMPTY_CHOICES``: the stream ends cleanly before ``message_stop`` (whole: a message
  without ``content``).

The request is checked as the API does (``_anthropic_checks``: documented fields only, the
first message ``user``, roles ``user``/``assistant``, text content, ``max_tokens`` positive,
``temperature`` in [0, 1], ...), each refusal a 400 ``invalid_request_error``; the key in
``x-api-key``. With ``rate_limits``, every reply carries ``anthropic-ratelimit-*`` headers for
the current one-minute window (prompt tokens counted) and, with ``enforce``, a spent limit is a
429 ``rate_limit_error`` with ``retry-after``. Tokens are whitespace-separated words. Runs on
aiohttp (asyncio).
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from chatsim.testing._anthropic_checks import problem
from chatsim.testing._anthropic_wire import (
    StreamEvents,
    error_body,
    message_body,
    presented_key,
    ratelimit_headers,
    shape,
    text_of,
)
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server_base import AiohttpServer
from chatsim.testing._server_capacity import RateLimits, RateLimitWindow
from chatsim.testing._server_handlers import ServerStats
from chatsim.testing._server_replies import RecordedRequest, reset_connection
from chatsim.testing._server_script import (
    ReplyContext,
    ReplyScript,
    ScriptExhaustedError,
    count_tokens,
    split_chunks,
)

__all__ = ["AnthropicLoopbackServer"]

_JSON = "application/json"
_BEDROCK_PREFIX = "/anthropic"  # where Bedrock's Anthropic-native (Mantle) endpoint mounts it


class AnthropicLoopbackServer(AiohttpServer):
    """Anthropic Messages API server on 127.0.0.1 (``port=0``: an ephemeral port).

    ``api_key`` makes it answer 401 to any other key; ``context_length`` answers
    400 ``prompt is too long`` above that many prompt tokens; ``rate_limits`` reports (and
    optionally enforces) per-minute limits as ``anthropic-ratelimit-*`` headers;
    ``extra_headers`` go on every reply; ``clock`` stamps the records and times the windows.
    """

    def __init__(
        self,
        script: ReplyScript | str | None = None,
        *,
        faults: FaultPlan | None = None,
        api_key: str | None = None,
        context_length: int | None = None,
        rate_limits: RateLimits | None = None,
        extra_headers: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.script = ReplyScript(script) if isinstance(script, str) else script or ReplyScript()
        self.faults = faults or FaultPlan()
        self.api_key = api_key
        self.context_length = context_length
        self.extra_headers = dict(extra_headers or {})
        super().__init__(host=host, port=port)
        self.stats = ServerStats()
        self._clock = clock
        self._records: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._window = RateLimitWindow(rate_limits, clock) if rate_limits else None

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/messages", self._handle),
            web.post(f"{_BEDROCK_PREFIX}/v1/messages", self._handle),
        ]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the SDK's ``base_url`` (it adds ``/v1/messages``)."""
        return self.root_url

    @property
    def bedrock_base_url(self) -> str:
        """``http://127.0.0.1:PORT/anthropic``: the ``base_url`` of the SDK's Bedrock Mantle
        client (``https://bedrock-mantle.{region}.api.aws/anthropic`` on AWS)."""
        return self.root_url + _BEDROCK_PREFIX

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first."""
        return list(self._records)

    def inject(self, fault: Fault | FaultKind | str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests."""
        self.faults.push(fault, times)

    # -- handling ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            return await self._serve(request)
        finally:
            stats.in_flight -= 1

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body if body is not None else raw.decode("utf-8", "replace"),
            request_id=f"req_{next(self._ids):024x}",
            received_at=self._clock(),
            endpoint="messages",
        )
        self._records.append(record)
        if self.api_key is not None and presented_key(request) != self.api_key:
            return self._respond(record, 401, error_body(401, "invalid x-api-key"))
        refusal = problem(body)
        if refusal is not None:
            return self._respond(record, 400, error_body(400, refusal))
        record.model = body["model"]
        stream = bool(body.get("stream"))
        fault = self.faults.draw("messages", body["model"])
        record.fault = fault.kind if fault is not None else None
        if fault is not None and (early := await self._early(request, record, fault, stream)):
            return early
        system_text = text_of(body.get("system"))
        # Content blocks read as their text, so a reply function sees plain messages.
        messages = tuple({**m, "content": text_of(m.get("content"))} for m in body["messages"])
        context = ReplyContext(endpoint="chat", model=body["model"], body=body, messages=messages)
        prompt = count_tokens(system_text) + sum(count_tokens(m["content"]) for m in messages)
        if self.context_length is not None and prompt > self.context_length:
            return self._respond(record, 400, self._too_long(prompt))
        if self._window is not None and (wait := self._window.admit(prompt)) is not None:
            retry = {"retry-after": str(math.ceil(wait))}
            return self._respond(record, 429, error_body(429), retry)
        try:
            text = self.script.for_model(body["model"]).text_for(context)
        except ScriptExhaustedError as exc:
            return self._respond(record, 500, error_body(500, str(exc)))
        shaped = shape(text, body)
        if stream:
            return await self._stream(request, record, shaped, prompt, fault)
        return await self._whole(record, shaped, prompt, fault)

    def _too_long(self, prompt: int) -> bytes:
        limit = self.context_length or 200_000
        return error_body(
            400, f"prompt is too long: {max(prompt, limit + 1)} tokens > {limit} maximum"
        )

    async def _early(
        self, request: web.Request, record: RecordedRequest, fault: Fault, stream: bool
    ) -> web.StreamResponse | None:
        """Faults that strike before any reply byte."""
        kind, status = fault.kind, fault.http_status
        if status is not None and not (
            stream and kind is FaultKind.HTTP_ERROR and fault.chunks_before
        ):
            headers: dict[str, str] = {}
            if kind is FaultKind.RATE_LIMIT_MS:
                headers["retry-after-ms"] = f"{fault.retry_after * 1000:g}"
            elif kind is FaultKind.RATE_LIMIT_DATE:
                when = math.ceil(time.time() + fault.retry_after)
                headers["retry-after"] = email.utils.formatdate(when, usegmt=True)
            elif status in (429, 529):
                headers["retry-after"] = f"{fault.retry_after:g}"
            if kind is FaultKind.CONTEXT_LENGTH:
                return self._respond(record, 400, self._too_long(0))
            return self._respond(record, status, error_body(status), headers)
        if kind is FaultKind.RESET or (kind is FaultKind.RESET_MID_STREAM and not stream):
            record.ended_at = self._clock()
            reset_connection(request)
            return web.Response()
        if kind is FaultKind.STALL and (fault.chunks_before == 0 or not stream):
            await asyncio.sleep(fault.stall)
        return None

    def _headers(self, record: RecordedRequest) -> dict[str, str]:
        headers = {"request-id": record.request_id, **self.extra_headers}
        if self._window is not None:
            headers.update(ratelimit_headers(self._window, time.time()))
        return headers

    def _respond(
        self,
        record: RecordedRequest,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = _JSON,
    ) -> web.Response:
        record.status, record.ended_at = status, self._clock()
        self.stats.statuses[status] += 1
        all_headers = {**self._headers(record), **(headers or {}), "Content-Type": content_type}
        return web.Response(status=status, body=body, headers=all_headers)

    async def _whole(
        self,
        record: RecordedRequest,
        shaped: tuple[str, str, str | None],
        prompt: int,
        fault: Fault | None,
    ) -> web.Response:
        text, reason, matched = shaped
        latency = self.script.for_model(record.model or "").latency
        await asyncio.sleep(latency.total(len(split_chunks(text, latency.chunks))))
        usage = (prompt, count_tokens(text))
        body = message_body(
            f"msg_{record.request_id[4:]}", record.model or "", text, reason, matched, usage
        )
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.MALFORMED_JSON:
            return self._respond(record, 200, body[: len(body) // 2])
        if kind is FaultKind.MALFORMED_SSE:
            return self._respond(
                record, 200, b"<html>502 Bad Gateway</html>", content_type="text/html"
            )
        if kind is FaultKind.EMPTY_CHOICES:
            return self._respond(record, 200, b'{"type":"message","role":"assistant"}')
        return self._respond(record, 200, body)

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        shaped: tuple[str, str, str | None],
        prompt: int,
        fault: Fault | None,
    ) -> web.StreamResponse:
        text, reason, matched = shaped
        latency = self.script.for_model(record.model or "").latency
        headers = {
            **self._headers(record),
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
        }
        response = web.StreamResponse(status=200, headers=headers)
        record.status = 200
        self.stats.statuses[200] += 1
        await response.prepare(request)
        await response.write(
            StreamEvents.start(f"msg_{record.request_id[4:]}", record.model or "", prompt)
        )
        pieces = split_chunks(text, latency.chunks)
        strike = fault.chunks_before if fault is not None else -1
        for i, chunk in enumerate([*pieces, None]):
            if (
                i == strike
                and fault is not None
                and await self._mid_stream(request, response, fault)
            ):
                record.ended_at = self._clock()
                return response
            if chunk is None:
                break
            await asyncio.sleep(latency.first_token if i == 0 else latency.inter_token)
            if i == 0:
                record.first_token_sent_at = self._clock()
            await response.write(StreamEvents.delta(chunk))
        await response.write(StreamEvents.finish(reason, matched, count_tokens(text)))
        await response.write_eof()
        record.ended_at = self._clock()
        return response

    async def _mid_stream(
        self, request: web.Request, response: web.StreamResponse, fault: Fault
    ) -> bool:
        """Strike ``fault`` inside a stream; True if the stream is over."""
        kind = fault.kind
        if kind is FaultKind.STALL:
            await asyncio.sleep(fault.stall)
            return False
        if kind is FaultKind.RESET_MID_STREAM:
            reset_connection(request)
            return True
        if kind is FaultKind.MALFORMED_JSON:
            await response.write(
                b'event: content_block_delta\ndata: {"type":"content_block_del\n\n'
            )
        elif kind is FaultKind.MALFORMED_SSE:
            await response.write(b"<html><body>502 Bad Gateway</body></html>\n")
        elif kind is FaultKind.HTTP_ERROR:
            await response.write(StreamEvents.error(fault.status))
        elif kind is not FaultKind.EMPTY_CHOICES:
            return False
        await response.write_eof()
        return True
