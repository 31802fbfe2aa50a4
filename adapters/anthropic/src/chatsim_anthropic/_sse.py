"""A minimal reader for Messages API event streams, and non-streamed reply parsing.

Hand-written on purpose, as the OpenAI adapter's: the SDK's SSE decoder and pydantic event
models cost most of a streamed call's client CPU (``benchmarks/bench_adapters.py``). Events
are split on blank lines; only ``data:`` fields are read (the ``event:`` line repeats the
payload's ``type``); payloads are parsed with orjson when installed. Of the events:

- ``message_start``: the reply's usage so far (``input_tokens``; ``output_tokens``);
- ``content_block_delta`` with a ``text_delta``: text, dated for the timing;
- ``message_delta``: ``stop_reason`` and the final ``output_tokens``;
- ``message_stop``: the end; anything after it is ignored;
- ``error``: raised as ``StreamErrorEvent`` (the transport classifies it by its type);
- ``ping`` and any other type: ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatsim.recording import Usage

__all__ = [
    "MalformedReply",
    "MessageStream",
    "StreamErrorEvent",
    "dumps",
    "loads",
    "parse_message_body",
]


def _json_codec() -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    """orjson when installed (several times faster per event), else the standard library."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a declared dependency
        import json

        return json.loads, lambda obj: json.dumps(obj, separators=(",", ":")).encode()
    return orjson.loads, orjson.dumps


loads, dumps = _json_codec()


class MalformedReply(ValueError):
    """The reply is not what the protocol promises (bad JSON, no message_start, cut stream)."""


class StreamErrorEvent(Exception):
    """An ``error`` event inside a 200 stream; ``body`` is its JSON (Anthropic's envelope)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error"))[:200])
        self.body = body


def _tokens(usage: Any, name: str) -> int | None:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) else None


class MessageStream:
    """Accumulates one streamed message from raw body bytes."""

    __slots__ = (
        "_arrived",
        "_buffer",
        "_last_text_at",
        "_now",
        "_parts",
        "completion_tokens",
        "ended_at",
        "first_token_at",
        "max_token_gap",
        "prompt_tokens",
        "started",
        "stop_reason",
    )

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._arrived: float | None = None
        self._buffer = b""
        self._parts: list[str] = []
        self._last_text_at: float | None = None
        self.first_token_at: float | None = None
        self.max_token_gap: float | None = None
        self.ended_at: float | None = None
        self.stop_reason: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.started = False

    @property
    def done(self) -> bool:
        """Whether ``message_stop`` was read."""
        return self.ended_at is not None

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the body; the text they complete is dated now (one clock
        reading per arrival, not per event)."""
        self._arrived = None
        buffer = self._buffer + data
        if b"\r" in buffer:  # CRLF or CR line endings: rare, so normalise lazily
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return
        *events, self._buffer = buffer.split(b"\n\n")
        for event in events:
            if not self.done:
                self._event(event)

    def _event(self, event: bytes) -> None:
        # The common shape, ``event: <type>\ndata: <json>``, without a split per line.
        if event.startswith(b"data:"):
            at = 5
        else:
            found = event.find(b"\ndata:")
            at = found + 6 if found >= 0 else -1
        if at >= 0 and event.find(b"\n", at) == -1:
            payload = event[at:]
            payload = payload[1:] if payload.startswith(b" ") else payload
        else:
            lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
            if not lines:
                return  # a comment, or an ``event:`` line alone
            payload = b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)
        try:
            chunk = loads(payload)
        except ValueError as exc:
            raise MalformedReply(f"stream event is not JSON: {payload[:80]!r}") from exc
        if not isinstance(chunk, dict):
            raise MalformedReply("stream event is not a JSON object")
        self._chunk(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> None:
        kind = chunk.get("type")
        if kind == "content_block_delta":
            delta = chunk["delta"]
            text = delta.get("text") if delta.get("type") == "text_delta" else None
            if text:
                self._text_arrived()
                self._parts.append(text)
        elif kind == "message_start":
            self.started = True
            usage = chunk["message"].get("usage")
            self.prompt_tokens = _tokens(usage, "input_tokens") or 0
            self.completion_tokens = _tokens(usage, "output_tokens") or 0
        elif kind == "message_delta":
            self.stop_reason = chunk["delta"].get("stop_reason") or self.stop_reason
            output = _tokens(chunk.get("usage"), "output_tokens")
            if output is not None:
                self.completion_tokens = output
        elif kind == "message_stop":
            self.ended_at = self._now()
        elif kind == "error":
            raise StreamErrorEvent(chunk)

    def _text_arrived(self) -> None:
        at = self._arrived
        if at is None:
            at = self._arrived = self._now()
        last = self._last_text_at
        if last is None:
            self.first_token_at = at
        elif at > last:
            gap = at - last
            if self.max_token_gap is None or gap > self.max_token_gap:
                self.max_token_gap = gap
        self._last_text_at = at

    def result(self) -> tuple[str, Usage]:
        """The full text and usage; raises ``MalformedReply`` for a cut or empty stream."""
        if self._buffer.strip() and not self.done:
            self.feed(b"\n\n")  # a last event without its blank line
        if not self.started:
            raise MalformedReply("the stream carried no message_start")
        if not self.done:
            raise MalformedReply("the stream ended before message_stop")
        usage = Usage(prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens)
        return "".join(self._parts), usage


def parse_message_body(raw: bytes) -> tuple[str, str | None, Usage]:
    """``(text, stop_reason, usage)`` of a non-streamed Messages API reply body."""
    try:
        body = loads(raw)
    except ValueError as exc:
        raise MalformedReply(f"reply body is not JSON: {raw[:80]!r}") from exc
    content = body.get("content") if isinstance(body, dict) else None
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(content, list) or not isinstance(usage, dict):
        raise MalformedReply("the reply carried no content or usage")
    text = "".join(
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )
    reason = body.get("stop_reason")
    tokens = Usage(
        prompt_tokens=_tokens(usage, "input_tokens") or 0,
        completion_tokens=_tokens(usage, "output_tokens") or 0,
    )
    return text, reason if isinstance(reason, str) else None, tokens
