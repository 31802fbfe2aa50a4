"""A conformance suite for target adapters, run against a loopback server of their wire.

An adapter author supplies ``make_adapter(server) -> TargetAdapter`` (sync or async) that
points the adapter at ``server.base_url`` (``server.root_url`` for Azure-style clients) with
the API key ``server.api_key``; every check starts its own server, builds an adapter, and
closes it. ``wire`` picks the server and where the checks read a request's fields
(``OPENAI_WIRE``, the default; ``ANTHROPIC_WIRE``; ``GEMINI_WIRE``; or your own ``Wire``).
Use all of them at once::

    await run_conformance(make_adapter, wire=ANTHROPIC_WIRE)

or one pytest test per check::

    @pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.name)
    async def test_conformance(check):
        await check(make_adapter, wire=ANTHROPIC_WIRE)

A failed check raises ``ConformanceFailure`` (an ``AssertionError``) saying what was expected.
The server runs on aiohttp, so the checks need the asyncio backend.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from chatsim._exceptions import (
    AuthenticationError,
    PermanentError,
    RateLimitError,
    TargetError,
    TransientError,
)
from chatsim.protocol._types import Message, Role
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest
from chatsim.testing._conformance_wire import OPENAI_WIRE, SentRequest, Wire
from chatsim.testing._faults import Fault, FaultKind
from chatsim.testing._server_script import Latency, ReplyScript, count_tokens

__all__ = [
    "CONFORMANCE_API_KEY",
    "CONFORMANCE_CHECKS",
    "ConformanceCheck",
    "ConformanceFailure",
    "MakeAdapter",
    "Trial",
    "run_conformance",
]

#: The key every conformance server demands; it must never show up in an error.
CONFORMANCE_API_KEY = "sk-conformance-0123456789abcdefXYZ"
REPLY = "The answer is (B), because 2 + 2 = 4."
SYSTEM = "You are a helpful AI assistant."
QUESTION = "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22"

#: ``make_adapter(server)``; the server is the wire's (``LoopbackServer`` for OpenAI).
MakeAdapter = Callable[[Any], TargetAdapter | Awaitable[TargetAdapter]]
E = TypeVar("E", bound=TargetError)


class ConformanceFailure(AssertionError):
    """An adapter does not behave as the contract says."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceFailure(message)


def request(*, stream: bool = True, **kw: Any) -> TargetRequest:
    """The request every check sends (a ChatBench-like first turn)."""
    messages = (Message(Role.SYSTEM, SYSTEM), Message(Role.USER, QUESTION))
    return TargetRequest(messages=messages, stream=stream, **kw)


async def _adapter(make_adapter: MakeAdapter, server: Any) -> TargetAdapter:
    made = make_adapter(server)
    return await made if inspect.isawaitable(made) else made


async def _complete(
    adapter: TargetAdapter, req: TargetRequest
) -> tuple[AdapterReply, float, float]:
    """The reply plus the clock just before and just after the call."""
    started = time.perf_counter()
    reply = await adapter.complete(req, now=time.perf_counter)
    return reply, started, time.perf_counter()


async def _failure(adapter: TargetAdapter, req: TargetRequest, expected: type[E], what: str) -> E:
    """The error ``complete`` raises, which must be an ``expected``."""
    try:
        reply = await adapter.complete(req, now=time.perf_counter)
    except TargetError as exc:
        _expect(CONFORMANCE_API_KEY not in f"{exc} {exc!r} {exc.headers}", f"{what}: key leaked")
        if isinstance(exc, expected):
            return exc
        raise ConformanceFailure(
            f"{what}: expected {expected.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise ConformanceFailure(
            f"{what}: raised foreign {type(exc).__name__} ({exc}); translate it into TargetError"
        ) from exc
    raise ConformanceFailure(f"{what}: expected {expected.__name__}, got a reply {reply.text!r}")


@dataclass(frozen=True, slots=True)
class Trial:
    """What one check works with: the adapter, the server it talks to, and their wire."""

    adapter: TargetAdapter
    server: Any
    wire: Wire

    @property
    def sent(self) -> Sequence[SentRequest]:
        return self.wire.sent(self.server)


@dataclass(frozen=True, slots=True)
class ConformanceCheck:
    """One named check; call it with ``make_adapter`` (and the wire, default OpenAI's)."""

    name: str
    description: str
    body: Callable[[Trial], Awaitable[None]]
    script: Callable[[], ReplyScript] = lambda: ReplyScript(REPLY)

    async def __call__(self, make_adapter: MakeAdapter, *, wire: Wire = OPENAI_WIRE) -> None:
        async with wire.serve(self.script(), CONFORMANCE_API_KEY) as server:
            adapter = await _adapter(make_adapter, server)
            try:
                await self.body(Trial(adapter, server, wire))
            finally:
                await adapter.aclose()


async def _streamed(t: Trial) -> None:
    reply, started, ended = await _complete(t.adapter, request())
    _expect(reply.text == REPLY, f"streamed text {reply.text!r} != {REPLY!r}")
    _expect(reply.finish_reason == "stop", f"finish_reason {reply.finish_reason!r} != 'stop'")
    _expect(reply.usage is not None, "streamed reply has no usage (ask the server to send it)")
    assert reply.usage is not None
    expected = (count_tokens(SYSTEM) + count_tokens(QUESTION), count_tokens(REPLY))
    got = (reply.usage.prompt_tokens, reply.usage.completion_tokens)
    _expect(got == expected, f"usage {got} != the server's {expected} (prompt, completion)")
    first = reply.timing.first_token_at
    _expect(first is not None and started <= first <= ended, f"first_token_at {first} not in call")
    sent = reply.timing.sent_at
    _expect(
        sent is None or (first is not None and started <= sent <= first),
        f"sent_at {sent} not between the call's start and the first token {first}",
    )
    (record,) = t.sent
    _expect(record.stream, "the request was not streamed")
    _expect(
        reply.request_id == record.request_id, f"request_id {reply.request_id!r} not the server's"
    )
    header = t.wire.request_id_header
    _expect(reply.headers.get(header) == record.request_id, f"{header} header not kept")
    turns = t.wire.turns(record.body)
    _expect(turns == [("system", SYSTEM), ("user", QUESTION)], f"messages sent as {turns}")
    _expect(bool(record.model), "no model sent")
    _expect(record.key == CONFORMANCE_API_KEY, f"the key was not sent where {t.wire.name} reads it")
    _expect(CONFORMANCE_API_KEY not in repr(reply), "the API key is in the reply (headers or raw)")


async def _non_streamed(t: Trial) -> None:
    reply, _, _ = await _complete(t.adapter, request(stream=False))
    _expect(reply.text == REPLY, f"text {reply.text!r} != {REPLY!r}")
    _expect(reply.timing.first_token_at is None, "a non-streamed reply has no first_token_at")
    tokens = count_tokens(REPLY)
    _expect(
        reply.usage is not None and reply.usage.completion_tokens == tokens, f"usage {reply.usage}"
    )
    (record,) = t.sent
    _expect(not record.stream, "the request was streamed")
    _expect(reply.request_id == record.request_id, "request_id not the server's")
    _expect(CONFORMANCE_API_KEY not in repr(reply), "the API key is in the reply (headers or raw)")


async def _request_fields(t: Trial) -> None:
    wire = t.wire
    await _complete(t.adapter, request(temperature=0.3, max_tokens=64, seed=7, stop=("[END]",)))
    body = t.sent[0].body
    fields: dict[str, tuple[Callable[[Any], Any], Any]] = {
        "temperature": (wire.temperature, 0.3),
        "max_tokens": (wire.max_tokens, 64),
    }
    if wire.seed is not None:
        fields["seed"] = (wire.seed, 7)
    for name, (read, value) in fields.items():
        _expect(read(body) == value, f"{name} sent as {read(body)!r}, expected {value!r}")
    stop = wire.stop(body)
    _expect(stop in (["[END]"], "[END]"), f"stop sent as {stop!r}")
    await _complete(t.adapter, request(temperature=None))
    _expect(wire.temperature(t.sent[1].body) is None, "temperature=None was sent")


async def _timing(t: Trial) -> None:
    reply, started, ended = await _complete(t.adapter, request())
    first = reply.timing.first_token_at
    _expect(first is not None, "no first_token_at on a streamed reply")
    assert first is not None
    _expect(first - started >= 0.004, f"first token after {first - started:.4f}s, scripted 5 ms")
    _expect(ended - first >= 0.002, "first_token_at taken at the end of the stream, not its start")


async def _rate_limits(t: Trial) -> None:
    for kind, low, high in [
        (FaultKind.RATE_LIMIT, 2.0, 2.0),
        (FaultKind.RATE_LIMIT_MS, 2.0, 2.0),
        (FaultKind.RATE_LIMIT_DATE, 1.0, 3.5),
    ]:
        t.server.inject(Fault(kind, retry_after=2.0))
        exc = await _failure(t.adapter, request(), RateLimitError, kind.value)
        retry = exc.retry_after
        _expect(retry is not None and low <= retry <= high, f"{kind}: retry_after {retry}")
        _expect(exc.status_code == 429, f"{kind}: status_code {exc.status_code}")
        _expect(exc.request_id == t.sent[-1].request_id, f"{kind}: request_id not kept")


async def _statuses(t: Trial) -> None:
    cases: list[tuple[Fault, type[TargetError]]] = [
        (Fault(FaultKind.SERVER_ERROR), TransientError),
        (Fault(FaultKind.BAD_GATEWAY), TransientError),
        (Fault(FaultKind.SERVICE_UNAVAILABLE), TransientError),
        (Fault(FaultKind.GATEWAY_TIMEOUT), TransientError),
        (Fault(FaultKind.HTTP_ERROR, status=408), TransientError),
        (Fault(FaultKind.HTTP_ERROR, status=409), TransientError),
        (Fault(FaultKind.CONTEXT_LENGTH), PermanentError),
        (Fault(FaultKind.HTTP_ERROR, status=404), PermanentError),
        (Fault(FaultKind.HTTP_ERROR, status=422), PermanentError),
        (Fault(FaultKind.UNAUTHORIZED), AuthenticationError),
        (Fault(FaultKind.HTTP_ERROR, status=403), AuthenticationError),
    ]
    for fault, expected in cases:
        for stream in (True, False):
            t.server.inject(fault)
            what = f"{fault.kind.value} {fault.http_status} (stream={stream})"
            exc = await _failure(t.adapter, request(stream=stream), expected, what)
            _expect(exc.status_code == fault.http_status, f"{what}: status_code {exc.status_code}")


async def _wire_faults(t: Trial) -> None:
    for case in t.wire.faults:
        for stream in case.streams:
            t.server.inject(case.fault)
            what = f"{case.fault.kind.value} {case.fault.http_status} (stream={stream})"
            exc = await _failure(t.adapter, request(stream=stream), case.expected, what)
            if case.status is not None:
                _expect(exc.status_code == case.status, f"{what}: status_code {exc.status_code}")
            if case.retry_after is not None:
                retry = getattr(exc, "retry_after", None)  # transient errors may carry one
                _expect(retry == case.retry_after, f"{what}: retry_after {retry} not honoured")
            reply, _, _ = await _complete(t.adapter, request(stream=stream))
            _expect(reply.text == REPLY, f"after {what}: the next call returned {reply.text!r}")


async def _broken_replies(t: Trial) -> None:
    cases = [
        (FaultKind.RESET, (True, False)),
        (FaultKind.RESET_MID_STREAM, (True,)),
        (FaultKind.MALFORMED_JSON, (True, False)),
        (FaultKind.MALFORMED_SSE, (True, False)),
        (FaultKind.EMPTY_CHOICES, (True, False)),
    ]
    for kind, streams in cases:
        for stream in streams:
            t.server.inject(kind)
            await _failure(
                t.adapter, request(stream=stream), TransientError, f"{kind} (stream={stream})"
            )
            reply, _, _ = await _complete(t.adapter, request(stream=stream))
            _expect(reply.text == REPLY, f"after {kind}: the next call returned {reply.text!r}")


async def _stall_cancel(t: Trial) -> None:
    t.server.inject(Fault(FaultKind.STALL, stall=10.0))
    with anyio.move_on_after(0.05) as scope:
        await t.adapter.complete(request(), now=time.perf_counter)
    _expect(scope.cancelled_caught, "a stalled call was not cancellable")
    t.server.inject(Fault(FaultKind.STALL, stall=10.0, after_chunks=2))
    with anyio.move_on_after(0.05) as scope:
        await t.adapter.complete(request(), now=time.perf_counter)
    _expect(scope.cancelled_caught, "a stream stalled midway was not cancellable")
    reply, _, _ = await _complete(t.adapter, request())
    _expect(reply.text == REPLY, "the adapter was unusable after a cancelled call")


async def _concurrent(t: Trial) -> None:
    replies: list[str] = []

    async def one(i: int) -> None:
        req = TargetRequest(messages=(Message(Role.USER, f"question {i}"),))
        replies.append((await t.adapter.complete(req, now=time.perf_counter)).text)

    async with anyio.create_task_group() as tg:
        for i in range(16):
            tg.start_soon(one, i)
    _expect(sorted(replies) == sorted(f"echo: question {i}" for i in range(16)), "mixed-up replies")
    _expect(t.server.stats.max_in_flight > 1, "concurrent calls were serialised")


CONFORMANCE_CHECKS: tuple[ConformanceCheck, ...] = (
    ConformanceCheck("streamed_reply", "text, usage, finish, first token, request id", _streamed),
    ConformanceCheck("non_streamed_reply", "text and usage without streaming", _non_streamed),
    ConformanceCheck("request_fields", "temperature, max_tokens, seed, stop sent", _request_fields),
    ConformanceCheck(
        "first_token_timing",
        "first_token_at after the scripted delay, before the end",
        _timing,
        lambda: ReplyScript(REPLY, latency=Latency.ms(first_token=5, inter_token=1, chunks=4)),
    ),
    ConformanceCheck("rate_limits", "429 in each Retry-After form", _rate_limits),
    ConformanceCheck(
        "status_errors", "5xx/408/409 transient, 4xx permanent, 401/403 auth", _statuses
    ),
    ConformanceCheck("wire_faults", "faults peculiar to the wire (Anthropic's 529)", _wire_faults),
    ConformanceCheck(
        "broken_replies", "resets, malformed JSON/SSE, empty choices", _broken_replies
    ),
    ConformanceCheck("stall_cancellation", "a stalled call is cancellable", _stall_cancel),
    ConformanceCheck(
        "concurrency",
        "concurrent calls each get their own reply",
        _concurrent,
        lambda: ReplyScript(lambda ctx: f"echo: {ctx.last_user_message}", latency=Latency.ms(2)),
    ),
)


async def run_conformance(
    make_adapter: MakeAdapter,
    *,
    checks: Sequence[ConformanceCheck] = CONFORMANCE_CHECKS,
    wire: Wire = OPENAI_WIRE,
) -> list[str]:
    """Run ``checks`` on ``wire``'s server; returns their names, or raises one
    ``ConformanceFailure`` naming each check that failed and why."""
    failures: list[str] = []
    for check in checks:
        try:
            await check(make_adapter, wire=wire)
        except ConformanceFailure as exc:
            failures.append(f"{check.name}: {exc}")
    if failures:
        raise ConformanceFailure(
            f"adapter failed conformance ({wire.name} wire):\n  " + "\n  ".join(failures)
        )
    return [check.name for check in checks]
