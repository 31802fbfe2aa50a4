"""The loopback server's request handling: auth, faults, scripts, capacity, recording.

``ServerCore`` holds the scripted state and the aiohttp handlers; ``LoopbackServer`` adds
binding, lifecycle and the test-facing API. aiohttp means asyncio here (``asyncio.sleep``).
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from chatsim._util._clock import MonotonicWallClock
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server_capacity import Capacity, CapacityGate, RateLimits, RateLimitWindow
from chatsim.testing._server_replies import RecordedRequest, ReplyJob, reset_connection, send_reply
from chatsim.testing._server_requests import contexts_of, validate
from chatsim.testing._server_requests import prompt_tokens as count_prompt
from chatsim.testing._server_script import Endpoint, ReplyScript, ScriptExhaustedError, shape_reply
from chatsim.testing._server_wire import (
    context_length_body,
    dumps,
    error_body,
    invalid_key_body,
    rate_limit_body,
    status_error_body,
)

__all__ = ["ServerCore", "ServerStats"]

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


class ServerCore:
    """Scripted state plus the aiohttp handlers that serve it."""

    def __init__(
        self,
        script: ReplyScript | str | None,
        *,
        faults: FaultPlan | None,
        capacity: Capacity | None,
        rate_limits: RateLimits | None,
        api_key: str | None,
        context_length: int | None,
        extra_headers: Mapping[str, str] | None,
        keep_requests: int | None,
        clock: Callable[[], float] | None,
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
        self.stats = ServerStats()
        self._clock: Callable[[], float] = clock or MonotonicWallClock().now
        self._gate = CapacityGate(capacity) if capacity else None
        self._window = RateLimitWindow(rate_limits, self._clock) if rate_limits else None
        self._records: deque[RecordedRequest] | None = (
            None if keep_requests == 0 else deque(maxlen=keep_requests)
        )
        self._ids = itertools.count(1)

    async def _models(self, request: web.Request) -> web.Response:
        record = self._record(request, "models", None)
        data: list[dict[str, Any]] = [
            {"id": name, "object": "model", "created": 0, "owned_by": "chatsim"}
            for name in self.script.model_names()
        ]
        if self.context_length is not None:  # as vLLM reports its --max-model-len
            for entry in data:
                entry["max_model_len"] = self.context_length
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
        problem = validate(endpoint, body)
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
        contexts = contexts_of(endpoint, model, body)
        try:
            texts = [script.text_for(ctx) for ctx in contexts]
        except ScriptExhaustedError as exc:
            return self._respond(record, 500, error_body(str(exc), "server_error"))
        prompt_tokens = count_prompt(contexts)
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
