"""Wire timestamps for the fast transport: when the request left, when reply bytes arrived.

A task that awaits a socket resumes one or more event-loop iterations after the bytes it
waits for arrived; under load (a thousand streams, each iteration running hundreds of
callbacks) that is milliseconds, and a time to first token read at the task's resumption
carries it. ``benchmarks/bench_timing.py`` measured it: at 1,000 concurrent streams, p99
~40 ms of client-side error when both ends were stamped in the task (from the attempt's start
to the first content the task parsed), ~1-4 ms with the stamps below.

- Sent: aiohttp's public request tracing fires ``on_request_chunk_sent`` right before the
  body is handed to the socket (with the buffered headers). On Python < 3.12 that write runs
  in a separate task, a loop iteration after the request was made.
- Connected: a request that opens a new connection first spends time connecting (DNS, TCP,
  TLS, a proxy tunnel; ``on_connection_create_start``/``_end``). That time is reported on
  its own, as load testers such as k6 do: it is the target's too (a loaded server accepts
  and handshakes slowly), but it is not part of answering the request.
- Arrived: the connection's protocol stamps each ``data_received`` that adds body bytes.
  The reader takes the stamp with the bytes: the first token is dated by the arrival of the
  batch that carried it. aiohttp has no public hook here, so the protocol subclass is
  installed through the connector's protocol factory and read through the body stream's
  protocol; ``stamping_installed`` says whether that worked (tests pin both, so an aiohttp
  change that breaks them fails CI rather than timings).
  Where it is not installed, the first token is dated when the task reads it, as before.

Stamps are ``time.perf_counter`` readings, converted to the run's clock when the reply is
assembled (``to_clock``), so one shared connection serves callers with different clocks.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = [
    "SendStamp",
    "arrival_of",
    "drop_arrival",
    "send_tracing",
    "stamping_connector",
    "stamping_installed",
    "to_clock",
]

_perf = time.perf_counter


class _StampingHandler(ResponseHandler):
    """aiohttp's client protocol, plus when the body bytes not yet read began to arrive."""

    # {a reply's body StreamReader: perf time of its first bytes since its reader last took
    # the stamp}. Two replies at most: the one arriving and, on a kept-alive connection
    # reused before its reader resumed, the one before it.
    chatsim_arrivals: dict[Any, float] | None = None

    def data_received(self, data: bytes) -> None:
        at = _perf()
        before = self._payload
        size = before.total_bytes if before is not None else 0
        super().data_received(data)
        payload = self._payload
        if payload is None or payload.total_bytes <= (size if payload is before else 0):
            return  # headers only, or bytes that are not body (chunk framing)
        arrivals = self.chatsim_arrivals
        if arrivals is None:
            self.chatsim_arrivals = {payload: at}
        elif payload not in arrivals:
            if len(arrivals) >= 2:
                del arrivals[next(iter(arrivals))]
            arrivals[payload] = at

    def connection_lost(self, exc: BaseException | None) -> None:
        # The stamps hold body streams that hold this protocol: break the cycle, so a closed
        # connection is freed by reference counting, not by a (frozen-heap) full collection.
        self.chatsim_arrivals = None
        super().connection_lost(exc)


def stamping_connector(**options: Any) -> aiohttp.TCPConnector:
    """A ``TCPConnector(**options)`` whose connections stamp body arrivals, where possible."""
    connector = aiohttp.TCPConnector(**options)
    factory = getattr(connector, "_factory", None)
    if isinstance(factory, functools.partial) and factory.func is ResponseHandler:
        stamping: Any = functools.partial(_StampingHandler, *factory.args, **factory.keywords)
        connector._factory = stamping
    return connector


def stamping_installed(connector: aiohttp.BaseConnector) -> bool:
    factory = getattr(connector, "_factory", None)
    return isinstance(factory, functools.partial) and factory.func is _StampingHandler


def _arrivals(response: aiohttp.ClientResponse) -> dict[Any, float] | None:
    """The stamps of the reply's connection, reached through its body stream: a reply that
    arrived whole has already handed its connection back."""
    protocol = getattr(response.content, "_protocol", None)
    arrivals: dict[Any, float] | None = getattr(protocol, "chatsim_arrivals", None)
    return arrivals


def drop_arrival(response: aiohttp.ClientResponse) -> None:
    """Forget the reply's stamp, if one is left (a body read whole, an error, an abort)."""
    arrivals = _arrivals(response)
    if arrivals:
        arrivals.pop(response.content, None)


def arrival_of(response: aiohttp.ClientResponse) -> float | None:
    """Take the perf time at which the body bytes not yet read began to arrive (None if
    unknown); call it right after each read, before the next ``await``."""
    arrivals = _arrivals(response)
    return arrivals.pop(response.content, None) if arrivals else None


class SendStamp:
    """``trace_request_ctx`` of one request: perf times it began and ended connecting (a new
    connection only) and its body went to the socket."""

    __slots__ = ("connected", "connecting", "sent")

    def __init__(self) -> None:
        self.connecting: float | None = None
        self.connected: float | None = None
        self.sent: float | None = None

    @property
    def connect_time(self) -> float | None:
        """Seconds spent opening a new connection for this request; None on a reused one."""
        if self.connecting is None or self.connected is None:
            return None
        return max(0.0, self.connected - self.connecting)


async def _on_connection_create_start(session: Any, context: Any, params: Any) -> None:
    stamp = context.trace_request_ctx
    if isinstance(stamp, SendStamp):
        stamp.connecting = _perf()


async def _on_connection_create_end(session: Any, context: Any, params: Any) -> None:
    stamp = context.trace_request_ctx
    if isinstance(stamp, SendStamp):
        stamp.connected = _perf()


async def _on_chunk_sent(session: Any, context: Any, params: Any) -> None:
    stamp = context.trace_request_ctx
    if isinstance(stamp, SendStamp) and stamp.sent is None:
        stamp.sent = _perf()


def send_tracing() -> aiohttp.TraceConfig:
    """The trace config that fills a request's ``SendStamp``."""
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_on_connection_create_start)
    config.on_connection_create_end.append(_on_connection_create_end)
    config.on_request_chunk_sent.append(_on_chunk_sent)
    config.freeze()
    return config


def to_clock(perf: float, clock_now: float, perf_now: float) -> float:
    """A perf-time stamp on the run's clock, given one simultaneous reading of both."""
    return clock_now - (perf_now - perf)
