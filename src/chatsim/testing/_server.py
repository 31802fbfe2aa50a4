"""An OpenAI-compatible HTTP server on loopback, scripted by the test that runs it.

    async with LoopbackServer(ReplyScript("Hi!", latency=Latency.ms(5, 1))) as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["model"] == "gpt-4o"

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/completions`` (string or batched prompts,
``stop`` honoured), ``GET /v1/models``, and Azure's
``POST /openai/deployments/{deployment}/(chat/)completions`` paths. Replies carry
``x-request-id`` and, with ``rate_limits``, ``x-ratelimit-*`` headers. Faults come from a
``FaultPlan``; ``Capacity`` scripts a saturation point. Built on aiohttp.web, so it runs on
asyncio (anyio's asyncio backend in tests). ``python -m chatsim.testing.server`` runs it as a
process.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import json
import math
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from chatsim._util._clock import MonotonicWallClock
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server_capacity import Capacity, CapacityGate, RateLimits, RateLimitWindow
from chatsim.testing._server_replies import RecordedRequest, ReplyJob, reset_connection, send_reply
from chatsim.testing._server_script import (
    Endpoint,
    ReplyContext,
    ReplyScript,
    ScriptExhaustedError,
    count_tokens,
    shape_reply,
)
from chatsim.testing._server_wire import (
    context_length_body,
    dumps,
    error_body,
    invalid_key_body,
    rate_limit_body,
    status_error_body,
)

__all__ = ["LoopbackServer", "ServerStats"]

_JSON = "application/json"


@dataclass(slots=True)
class ServerStats:
    """Live counters."""

    requests: int = 0
    """Completion requests received (``/v1/models`` not counted)."""
    in_flight: int = 0
    """Completion requests being served now (queued for capacity included)."""
    max_in_flight: int = 0
    """Highest ``in_flight`` seen (the concurrency the client achieved)."""
    statuses: Counter[int] = field(default_factory=Counter)
    """Responses by status (resets before a response are not counted)."""


class LoopbackServer:
    """OpenAI-compatible server on 127.0.0.1 (``port=0``: an ephemeral port).

    ``script`` scripts replies and latency (a string is a constant reply); ``faults`` injects
    failures; ``capacity`` limits concurrent service; ``rate_limits`` adds ``x-ratelimit-*``
    headers (and optionally enforces them); ``api_key`` makes the server answer 401 to any
    other key (``Authorization: Bearer`` or Azure's ``api-key``); ``context_length`` answers
    400 ``context_length_exceeded`` above that many prompt tokens (words). ``keep_requests``
    bounds how many requests are recorded (0: none; None: all). ``clock`` stamps the records
    (default: chatsim's epoch-anchored monotonic clock, like the run's records).
    """

    def __init__(
        self,
        script: ReplyScript | str | None = None,
        *,
        faults: FaultPlan | None = None,
        capacity: Capacity | None = None,
        rate_limits: RateLimits | None = None,
        api_key: str | None = None,
        context_length: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_requests: int | None = 10_000,
        clock: Callable[[], float] | None = None,
        backlog: int = 4096,
        shutdown_timeout: float = 0.5,
    ) -> None:
        if script is None:
            script = ReplyScript()
        elif isinstance(script, str):
            script = ReplyScript(script)
        self.script = script
        self.faults = faults or FaultPlan()
        self.capacity = capacity
        self.api_key = api_key
        self.context_length = context_length
        self.extra_headers = dict(extra_headers or {})
        self.host = host
        self.port = port
        self.stats = ServerStats()
        self._clock: Callable[[], float] = clock or MonotonicWallClock().now
        self._gate = CapacityGate(capacity) if capacity else None
        self._window = RateLimitWindow(rate_limits, self._clock) if rate_limits else None
        self._records: deque[RecordedRequest] | None = (
            None if keep_requests == 0 else deque(maxlen=keep_requests)
        )
        self._ids = itertools.count(1)
        self._backlog = backlog
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and serve; ``port`` holds the bound port afterwards."""
        if self._runner is not None:
            raise RuntimeError("LoopbackServer already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(
            [
                web.post("/v1/chat/completions", self._chat),
                web.post("/v1/completions", self._completions),
                web.post("/openai/deployments/{deployment}/chat/completions", self._chat),
                web.post("/openai/deployments/{deployment}/completions", self._completions),
                web.get("/v1/models", self._models),
            ]
        )
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,  # a client that gives up frees its worker
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(self._backlog)
        sock.setblocking(False)
        site = web.SockSite(runner, sock, backlog=self._backlog)
        await site.start()
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- what tests read ---------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (an Azure endpoint)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (an OpenAI base URL)."""
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first (at most ``keep_requests``)."""
        return list(self._records or ())

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """Recorded chat and text completion requests (``/v1/models`` left out)."""
        return [r for r in self._records or () if r.endpoint in ("chat", "completions")]

    @property
    def max_waiting(self) -> int:
        """Most requests seen queued for a capacity worker at once."""
        return self._gate.max_waiting if self._gate else 0

    def inject(self, fault: Fault | FaultKind | str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests."""
        self.faults.push(fault, times)

    def clear(self) -> None:
        """Forget recorded requests and reset the counters (queued faults stay)."""
        if self._records is not None:
            self._records.clear()
        in_flight = self.stats.in_flight
        self.stats = ServerStats(in_flight=in_flight, max_in_flight=in_flight)

    # -- handlers ----------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        record = self._record(request, "models", None)
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "chatsim"}
            for name in self.script.model_names()
        ]
        return self._respond(record, 200, dumps({"object": "list", "data": data}))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._completion(request, "chat")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._completion(request, "completions")

    async def _completion(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            return await self._serve(request, endpoint)
        finally:
            self.stats.in_flight -= 1

    async def _serve(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        record = self._record(
            request, endpoint, body if body is not None else raw.decode("utf-8", "replace")
        )
        if not isinstance(body, dict):
            return self._invalid(record, "We could not parse the JSON body of your request.")
        model = request.match_info.get("deployment") or body.get("model")
        if not isinstance(model, str) or not model:
            return self._invalid(record, "you must provide a model parameter", "model")
        record.model = model
        if self.api_key is not None and (presented := self._presented_key(request)) != self.api_key:
            return self._respond(record, 401, invalid_key_body(presented or ""))
        problem = _validate(endpoint, body)
        if problem:
            return self._invalid(record, *problem)
        fault = self.faults.draw(endpoint, model)
        stream = bool(body.get("stream"))
        if fault is not None:
            record.fault = fault.kind
            early = await self._early_fault(request, record, fault, stream, model)
            if early is not None:
                return early
        return await self._generate(request, record, endpoint, body, model, stream, fault)

    async def _early_fault(
        self, request: web.Request, record: RecordedRequest, fault: Fault, stream: bool, model: str
    ) -> web.StreamResponse | None:
        """Faults that strike before any reply byte: an error status, a reset, a stall."""
        kind = fault.kind
        status = fault.http_status
        if status is not None:
            return self._fault_status(record, fault, status, model)
        if kind is FaultKind.RESET or (kind is FaultKind.RESET_MID_STREAM and not stream):
            record.ended_at = self._clock()
            reset_connection(request)
            return web.Response()
        if kind is FaultKind.STALL and (fault.chunks_before == 0 or not stream):
            await asyncio.sleep(fault.stall)
        return None

    def _fault_status(
        self, record: RecordedRequest, fault: Fault, status: int, model: str
    ) -> web.Response:
        kind = fault.kind
        headers: dict[str, str] = {}
        if kind is FaultKind.RATE_LIMIT:
            headers["retry-after"] = f"{fault.retry_after:g}"
        elif kind is FaultKind.RATE_LIMIT_MS:
            headers["retry-after-ms"] = f"{fault.retry_after * 1000:g}"
        elif kind is FaultKind.RATE_LIMIT_DATE:
            when = math.ceil(time.time() + fault.retry_after)
            headers["retry-after"] = email.utils.formatdate(when, usegmt=True)
        if status == 429:
            body = rate_limit_body(model, fault.retry_after)
        elif kind is FaultKind.CONTEXT_LENGTH:
            limit = self.context_length or 128_000
            body = context_length_body(limit, limit + 1)
        elif kind is FaultKind.UNAUTHORIZED:
            body = invalid_key_body("")
        else:
            body = status_error_body(status)
        return self._respond(record, status, body, headers)

    async def _generate(
        self,
        request: web.Request,
        record: RecordedRequest,
        endpoint: Endpoint,
        body: dict[str, Any],
        model: str,
        stream: bool,
        fault: Fault | None,
    ) -> web.StreamResponse:
        script = self.script.for_model(model)
        contexts = _contexts(endpoint, model, body)
        try:
            texts = [script.text_for(ctx) for ctx in contexts]
        except ScriptExhaustedError as exc:
            return self._respond(record, 500, error_body(str(exc), "server_error"))
        prompt_tokens = _prompt_tokens(contexts)
        if self.context_length is not None and prompt_tokens > self.context_length:
            return self._respond(
                record, 400, context_length_body(self.context_length, prompt_tokens)
            )
        if self._window is not None:
            wait = self._window.admit(prompt_tokens)
            if wait is not None:
                body_429 = rate_limit_body(model, wait)
                return self._respond(record, 429, body_429, {"retry-after": f"{math.ceil(wait)}"})
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        replies = [
            shape_reply(
                text,
                stop=body.get("stop"),
                max_tokens=max_tokens if isinstance(max_tokens, int) else None,
                finish_reason=script.finish_reason,
                latency=script.latency,
            )
            for text in texts
        ]
        options = body.get("stream_options")
        job = ReplyJob(
            endpoint=endpoint,
            model=model,
            stream=stream,
            include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
            replies=replies,
            prompt_tokens=prompt_tokens,
            latency=script.latency,
            fault=fault,
            headers=self._headers(record),
            record=record,
            clock=self._clock,
            completion_id=f"{'chatcmpl' if endpoint == 'chat' else 'cmpl'}-{record.request_id[4:]}",
            created=int(time.time()),
        )
        return await self._within_capacity(request, record, job)

    async def _within_capacity(
        self, request: web.Request, record: RecordedRequest, job: ReplyJob
    ) -> web.StreamResponse:
        gate = self._gate
        if gate is None:
            response = await send_reply(request, job)
        else:
            if gate.would_reject():
                gate.rejected += 1
                cap = gate.capacity
                headers = {} if cap.retry_after is None else {"retry-after": f"{cap.retry_after:g}"}
                body = (
                    rate_limit_body(job.model, cap.retry_after or 1.0)
                    if cap.reject_status == 429
                    else status_error_body(cap.reject_status)
                )
                return self._respond(record, cap.reject_status, body, headers)
            await gate.acquire()
            try:
                response = await send_reply(request, job)
            finally:
                gate.release()
        self.stats.statuses[response.status] += 1
        return response

    # -- helpers -----------------------------------------------------------------------------

    def _record(self, request: web.Request, endpoint: str, body: Any) -> RecordedRequest:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            request_id=f"req_{next(self._ids):012x}",
            received_at=self._clock(),
            endpoint=endpoint,
        )
        if self._records is not None:
            self._records.append(record)
        return record

    def _headers(self, record: RecordedRequest) -> dict[str, str]:
        headers = {"x-request-id": record.request_id, **self.extra_headers}
        if self._window is not None:
            headers.update(self._window.headers())
        return headers

    def _respond(
        self,
        record: RecordedRequest,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        record.status = status
        record.ended_at = self._clock()
        if record.endpoint != "models":
            self.stats.statuses[status] += 1
        all_headers = {**self._headers(record), **(headers or {}), "Content-Type": _JSON}
        return web.Response(status=status, body=body, headers=all_headers)

    def _invalid(
        self, record: RecordedRequest, message: str, param: str | None = None
    ) -> web.Response:
        return self._respond(record, 400, error_body(message, "invalid_request_error", None, param))

    @staticmethod
    def _presented_key(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        return request.headers.get("api-key")


def _validate(endpoint: Endpoint, body: dict[str, Any]) -> tuple[str, str] | None:
    """A 400's message and param when the body lacks what the endpoint needs."""
    if endpoint == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return ("'messages' must be a non-empty array", "messages")
        return None
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return None
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return None
    return ("'prompt' must be a string or a non-empty array of strings", "prompt")


def _contexts(endpoint: Endpoint, model: str, body: dict[str, Any]) -> list[ReplyContext]:
    if endpoint == "chat":
        messages = tuple(m for m in body["messages"] if isinstance(m, dict))
        return [ReplyContext("chat", model, body, messages=messages)]
    prompt = body["prompt"]
    prompts = [prompt] if isinstance(prompt, str) else prompt
    return [
        ReplyContext("completions", model, body, prompt=p, index=i) for i, p in enumerate(prompts)
    ]


def _prompt_tokens(contexts: list[ReplyContext]) -> int:
    total = 0
    for ctx in contexts:
        if ctx.prompt is not None:
            total += count_tokens(ctx.prompt)
            continue
        for message in ctx.messages:
            content = message.get("content")
            if isinstance(content, str):
                total += count_tokens(content)
            elif isinstance(content, list):
                total += sum(
                    count_tokens(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                )
    return total
