"""Writing one completion reply (streamed or not), with the faults that strike mid-reply.

The server runs on aiohttp, hence asyncio (``asyncio.sleep``) rather than anyio here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from chatsim.testing._faults import Fault, FaultKind
from chatsim.testing._server_script import Endpoint, Latency, ShapedReply
from chatsim.testing._server_wire import (
    DONE,
    ChatChunks,
    CompletionChunks,
    chat_body,
    completion_body,
    usage_dict,
)

__all__ = ["RecordedRequest", "ReplyJob", "reset_connection", "send_reply"]

_HTML_ERROR = (
    b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>\r\n"
)

# Event tags of a stream: what precedes content, content, and what follows it.
_PRELUDE, _CONTENT, _TAIL = 0, 1, 2


@dataclass(slots=True)
class RecordedRequest:
    """One request the server received, with what it did about it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Request headers, names lower-cased (auth included: this is a test double)."""
    body: Any
    """The parsed JSON body (None for GET, or the raw text when it was not JSON)."""
    request_id: str
    """The ``x-request-id`` the server answered with."""
    received_at: float
    """Server clock when the request arrived."""
    endpoint: str | None = None
    """``chat``, ``completions`` or ``models``."""
    model: str | None = None
    status: int | None = None
    """Status answered (None while in flight, or for a reset before any response)."""
    fault: FaultKind | None = None
    """The fault injected into this request, if any."""
    first_token_sent_at: float | None = None
    """Server clock just before the first content chunk was written."""
    ended_at: float | None = None
    """Server clock when the reply was complete (or cut)."""

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def sent_ttft(self) -> float | None:
        """Seconds from arrival to the first content chunk, as the server sent it."""
        if self.first_token_sent_at is None:
            return None
        return self.first_token_sent_at - self.received_at


@dataclass(slots=True)
class ReplyJob:
    """Everything needed to answer one completion request."""

    endpoint: Endpoint
    model: str
    stream: bool
    include_usage: bool
    replies: list[ShapedReply]
    prompt_tokens: int
    latency: Latency
    fault: Fault | None
    headers: dict[str, str]
    record: RecordedRequest
    clock: Callable[[], float]
    completion_id: str
    created: int
    usage: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        completion = sum(r.completion_tokens for r in self.replies)
        self.usage = usage_dict(self.prompt_tokens, completion)


def reset_connection(request: web.BaseRequest) -> None:
    """Reset the TCP connection (RST, not FIN): SO_LINGER 0, then abort."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def send_reply(request: web.Request, job: ReplyJob) -> web.StreamResponse:
    if job.stream:
        return await _send_stream(request, job)
    return await _send_whole(request, job)


async def _send_whole(request: web.Request, job: ReplyJob) -> web.StreamResponse:
    longest = max((len(r.chunks) for r in job.replies), default=0)
    delay = job.latency.total(max(longest, 1))
    if delay > 0:
        await asyncio.sleep(delay)
    kind = job.fault.kind if job.fault else None
    empty = kind is FaultKind.EMPTY_CHOICES
    if job.endpoint == "chat":
        reply = job.replies[0]
        body = chat_body(
            job.completion_id, job.created, job.model, reply.text, reply.finish_reason, job.usage,
            empty=empty,
        )  # fmt: skip
    else:
        choices = [(r.text, r.finish_reason) for r in job.replies]
        body = completion_body(
            job.completion_id, job.created, job.model, choices, job.usage, empty=empty
        )
    if kind is FaultKind.MALFORMED_JSON:
        body = body[: len(body) // 2]
    elif kind is FaultKind.MALFORMED_SSE:
        body = _HTML_ERROR
    job.record.first_token_sent_at = job.record.ended_at = job.clock()
    job.record.status = 200
    headers = {**job.headers, "Content-Type": "application/json"}
    return web.Response(status=200, body=body, headers=headers)


def _events(job: ReplyJob) -> list[tuple[int, bytes]]:
    """Every event of the stream, tagged prelude / content / tail."""
    if job.endpoint == "chat":
        chat = ChatChunks(job.completion_id, job.created, job.model, job.include_usage)
        if job.fault is not None and job.fault.kind is FaultKind.EMPTY_CHOICES:
            return [(_PRELUDE, chat.empty()), (_TAIL, chat.empty()), (_TAIL, DONE)]
        reply = job.replies[0]
        events = [(_PRELUDE, chat.role())]
        events += [(_CONTENT, chat.content(piece)) for piece in reply.chunks]
        events.append((_TAIL, chat.finish(reply.finish_reason)))
        usage = chat.usage(job.usage) if job.include_usage else None
    else:
        text = CompletionChunks(job.completion_id, job.created, job.model, job.include_usage)
        if job.fault is not None and job.fault.kind is FaultKind.EMPTY_CHOICES:
            return [(_PRELUDE, text.empty()), (_TAIL, text.empty()), (_TAIL, DONE)]
        events = []
        for index, reply in enumerate(job.replies):
            events += [(_CONTENT, text.content(piece, index)) for piece in reply.chunks]
            events.append((_TAIL, text.finish(reply.finish_reason, index)))
        usage = text.usage(job.usage) if job.include_usage else None
    if usage is not None:
        events.append((_TAIL, usage))
    events.append((_TAIL, DONE))
    return events


async def _send_stream(request: web.Request, job: ReplyJob) -> web.StreamResponse:
    headers = {**job.headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    response = web.StreamResponse(status=200, headers=headers)
    await response.prepare(request)
    job.record.status = 200
    fault = job.fault
    strike_at = fault.chunks_before if fault is not None and _strikes_mid_stream(fault) else -1
    latency, clock, record = job.latency, job.clock, job.record
    buffer: list[bytes] = []
    sent = 0  # content chunks so far
    waited = False  # the time to first token, paid once (also by a reply with no content)
    for tag, data in _events(job):
        if tag != _PRELUDE and sent == strike_at and fault is not None:
            strike_at = -1
            await response.write(b"".join(buffer))
            buffer.clear()
            if await _strike(request, response, fault, job):
                return response
        if tag != _PRELUDE and not waited:
            waited = True
            if latency.first_token > 0:
                await asyncio.sleep(latency.first_token)
        if tag == _CONTENT:
            if sent == 0:
                record.first_token_sent_at = clock()
            elif latency.inter_token > 0:
                await response.write(b"".join(buffer))
                buffer.clear()
                await asyncio.sleep(latency.inter_token)
            sent += 1
        buffer.append(data)
    await response.write(b"".join(buffer))
    await response.write_eof()
    record.ended_at = clock()
    return response


def _strikes_mid_stream(fault: Fault) -> bool:
    if fault.kind is FaultKind.STALL:
        return fault.chunks_before > 0
    return fault.kind in (
        FaultKind.RESET_MID_STREAM,
        FaultKind.MALFORMED_JSON,
        FaultKind.MALFORMED_SSE,
    )


async def _strike(
    request: web.Request, response: web.StreamResponse, fault: Fault, job: ReplyJob
) -> bool:
    """Apply a mid-stream fault; True when the stream ends here."""
    job.record.ended_at = job.clock()
    if fault.kind is FaultKind.STALL:
        await asyncio.sleep(fault.stall)
        return False
    if fault.kind is FaultKind.RESET_MID_STREAM:
        reset_connection(request)
        return True
    tail = _HTML_ERROR if fault.kind is FaultKind.MALFORMED_SSE else _broken(job)
    await response.write(tail)
    await response.write_eof()
    return True


def _broken(job: ReplyJob) -> bytes:
    if job.endpoint == "chat":
        return ChatChunks(job.completion_id, job.created, job.model, job.include_usage).broken()
    return CompletionChunks(job.completion_id, job.created, job.model, job.include_usage).broken()
