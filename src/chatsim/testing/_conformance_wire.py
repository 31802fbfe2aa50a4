"""Wires for the conformance suite: which server to start and where a request keeps its fields.

A ``Wire`` is what the checks need to know of one wire protocol: a factory for its loopback
server, and readers that find a recorded request's id, model, messages (system prompt
included), temperature, ``max_tokens``, seed (where the wire has one), stop strings and API
key. Every check reads requests through one, so the same checks hold an OpenAI, Anthropic or
Gemini adapter to the same bar. ``OPENAI_WIRE``, ``ANTHROPIC_WIRE`` and ``GEMINI_WIRE`` are
chatsim's servers; an adapter author with another wire writes a ``Wire`` for their own server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from chatsim._exceptions import TargetError, TransientError
from chatsim.testing._anthropic_server import AnthropicLoopbackServer
from chatsim.testing._anthropic_wire import text_of
from chatsim.testing._faults import Fault, FaultKind
from chatsim.testing._gemini_server import GeminiLoopbackServer
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_handlers import ServerStats
from chatsim.testing._server_replies import RecordedRequest
from chatsim.testing._server_script import ReplyScript

__all__ = [
    "ANTHROPIC_WIRE",
    "GEMINI_WIRE",
    "OPENAI_WIRE",
    "ConformanceServer",
    "FaultCase",
    "SentRequest",
    "Wire",
    "field_at",
]

Body = Mapping[str, Any]
Turns = list[tuple[str, str]]


class ConformanceServer(Protocol):
    """What the checks use of a server (every chatsim loopback server has it)."""

    @property
    def stats(self) -> ServerStats: ...

    def inject(self, fault: Fault | FaultKind | str, times: int = 1) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One request the adapter sent, as a check reads it (in the wire's own form)."""

    request_id: str
    """The id the server answered with (a reply's ``request_id`` must be this)."""
    stream: bool
    model: str | None
    body: Body
    """The JSON body as the server received it."""
    key: str | None
    """The API key found where the wire documents it (None: not there)."""


@dataclass(frozen=True, slots=True)
class FaultCase:
    """A fault peculiar to one wire, and the error an adapter must turn it into."""

    fault: Fault
    expected: type[TargetError]
    streams: tuple[bool, ...] = (True, False)
    retry_after: float | None = None
    """The hint the error must carry (None: not checked)."""
    status: int | None = None
    """The ``status_code`` the error must carry (None: not checked)."""


def field_at(*path: str) -> Callable[[Body], Any]:
    """A reader of ``body[path[0]][path[1]]...`` (None where any step is missing)."""

    def read(body: Body) -> Any:
        value: Any = body
        for step in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
        return value

    return read


# Where the OpenAI wire keeps them: the defaults of a ``Wire``.
_AT_TEMPERATURE = field_at("temperature")
_AT_MAX_TOKENS = field_at("max_tokens")
_AT_SEED = field_at("seed")
_AT_STOP = field_at("stop")


@dataclass(frozen=True, slots=True)
class Wire:
    """One wire protocol, as the conformance checks see it."""

    name: str
    serve: Callable[[ReplyScript, str], ConformanceServer]
    """``(script, api_key) -> server``, not started (the check enters it)."""
    sent: Callable[[Any], Sequence[SentRequest]]
    """The completion requests a server recorded, oldest first."""
    turns: Callable[[Body], Turns]
    """``(role, text)`` of the system prompt (role ``system``) and every message, in order."""
    temperature: Callable[[Body], Any] = _AT_TEMPERATURE
    max_tokens: Callable[[Body], Any] = _AT_MAX_TOKENS
    seed: Callable[[Body], Any] | None = _AT_SEED
    """None: the wire has no seed (the adapter must not fail on one, nor send it)."""
    stop: Callable[[Body], Any] = _AT_STOP
    """The stop strings: a list, or one string."""
    request_id_header: str = "x-request-id"
    """The reply header that carries the request id (kept in ``AdapterReply.headers``)."""
    faults: tuple[FaultCase, ...] = ()
    """Faults peculiar to this wire, checked on top of the shared ones."""


# -- OpenAI ----------------------------------------------------------------------------------


def _openai_key(record: RecordedRequest) -> str | None:
    auth = record.headers.get("authorization", "")
    return (
        auth.removeprefix("Bearer ")
        if auth.startswith("Bearer ")
        else record.headers.get("api-key")
    )


def _sent_of(
    record: RecordedRequest, key: str | None, *, stream: bool | None = None
) -> SentRequest:
    body = record.body if isinstance(record.body, Mapping) else {}
    return SentRequest(
        request_id=record.request_id,
        stream=record.stream if stream is None else stream,
        model=record.model,
        body=body,
        key=key,
    )


def _openai_sent(server: LoopbackServer) -> list[SentRequest]:
    return [_sent_of(r, _openai_key(r)) for r in server.completion_requests]


def _openai_turns(body: Body) -> Turns:
    return [(str(m.get("role")), str(m.get("content"))) for m in body.get("messages", [])]


OPENAI_WIRE = Wire(
    name="openai",
    serve=lambda script, key: LoopbackServer(script, api_key=key),
    sent=_openai_sent,
    turns=_openai_turns,
)
"""``/v1/chat/completions`` on ``LoopbackServer`` (``base_url``; ``root_url`` for Azure)."""


# -- Anthropic -------------------------------------------------------------------------------


def _anthropic_sent(server: AnthropicLoopbackServer) -> list[SentRequest]:
    # The server's own reading (``x-api-key``, else ``Authorization: Bearer``).
    return [_sent_of(r, r.headers.get("x-api-key") or _openai_key(r)) for r in server.requests]


def _anthropic_turns(body: Body) -> Turns:
    system = [("system", text_of(body["system"]))] if body.get("system") else []
    return system + [(str(m.get("role")), text_of(m.get("content"))) for m in body["messages"]]


ANTHROPIC_WIRE = Wire(
    name="anthropic",
    serve=lambda script, key: AnthropicLoopbackServer(script, api_key=key),
    sent=_anthropic_sent,
    turns=_anthropic_turns,
    seed=None,
    stop=field_at("stop_sequences"),
    request_id_header="request-id",
    faults=(
        FaultCase(
            Fault(FaultKind.HTTP_ERROR, status=529, retry_after=2.0),
            TransientError,
            retry_after=2.0,
            status=529,
        ),
        FaultCase(  # overloaded_error as an event inside a 200 stream
            Fault(FaultKind.HTTP_ERROR, status=529, after_chunks=1),
            TransientError,
            streams=(True,),
            status=529,
        ),
    ),
)
"""``/v1/messages`` on ``AnthropicLoopbackServer`` (``base_url``)."""


# -- Gemini ----------------------------------------------------------------------------------


def _gemini_sent(server: GeminiLoopbackServer) -> list[SentRequest]:
    # The front records the Gemini request; the upstream behind it the id it answered with
    # and the credential, moved into ``Authorization`` only when it came where the service
    # reads it: ``x-goog-api-key`` (Gemini API, Vertex express mode) or, on Vertex AI's
    # project paths, ``Authorization: Bearer``.
    out = []
    for front, record in zip(server.requests, server.upstream.completion_requests, strict=False):
        key = _openai_key(record) if front.key_header or front.service == "vertex" else None
        out.append(SentRequest(record.request_id, front.stream, front.model, front.body or {}, key))
    return out


def _gemini_text(content: Any) -> str:
    parts = content.get("parts", []) if isinstance(content, Mapping) else []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping))


def _gemini_turns(body: Body) -> Turns:
    system = body.get("systemInstruction") or body.get("system_instruction")
    turns = [("system", _gemini_text(system))] if system else []
    for content in body.get("contents", []):
        role = "assistant" if content.get("role") == "model" else str(content.get("role"))
        turns.append((role, _gemini_text(content)))
    return turns


GEMINI_WIRE = Wire(
    name="gemini",
    serve=lambda script, key: GeminiLoopbackServer(script, api_key=key),
    sent=_gemini_sent,
    turns=_gemini_turns,
    temperature=field_at("generationConfig", "temperature"),
    max_tokens=field_at("generationConfig", "maxOutputTokens"),
    seed=field_at("generationConfig", "seed"),
    stop=field_at("generationConfig", "stopSequences"),
)
"""``generateContent`` / ``streamGenerateContent?alt=sse`` on ``GeminiLoopbackServer``: the
Gemini API's paths and Vertex AI's (the same bodies; the key is Vertex's bearer token)."""
