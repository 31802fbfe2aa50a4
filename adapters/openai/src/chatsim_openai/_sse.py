"""A minimal server-sent-events reader for chat completion streams, and reply parsing.

Hand-written on purpose: the SDK's decoder plus pydantic models cost ~0.1 ms per event, which
is most of a load tester's CPU budget (DESIGN.md §4). This reader splits events on blank
lines, keeps only ``data:`` fields (comments, ``event:``/``id:`` lines and stray non-SSE bytes
are ignored, as the SSE spec and the SDK do) and parses each payload with orjson when it is
installed. Completeness is checked by the caller: a stream that ends without a
``finish_reason`` or ``[DONE]`` is cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatsim.recording import Usage

__all__ = ["ChatStream", "MalformedReply", "dumps", "loads", "parse_chat_body", "usage_of"]


def _json_codec() -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    """orjson when installed (several times faster per chunk), else the standard library."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a declared dependency
        import json

        return json.loads, lambda obj: json.dumps(obj, separators=(",", ":")).encode()
    return orjson.loads, orjson.dumps


loads, dumps = _json_codec()


class MalformedReply(ValueError):
    """The reply is not what the protocol promises (bad JSON, no choices, cut stream)."""


def usage_of(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
    )


class ChatStream:
    """Accumulates one streamed chat completion from raw body bytes."""

    __slots__ = (
        "_arrived",
        "_buffer",
        "_last_content_at",
        "_now",
        "_parts",
        "done",
        "finish_reason",
        "first_token_at",
        "max_token_gap",
        "saw_choices",
        "usage",
    )

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._arrived: float | None = None
        self._buffer = b""
        self._parts: list[str] = []
        self.first_token_at: float | None = None
        self._last_content_at: float | None = None
        self.max_token_gap: float | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.saw_choices = False
        self.done = False

    def feed(self, data: bytes, arrived_at: float | None = None) -> None:
        """Take the next bytes of the body. ``arrived_at`` (the run's clock) dates the content
        they complete (the first token, and the gaps between arrivals); by default, now."""
        self._arrived = arrived_at
        buffer = self._buffer + data
        if b"\r" in buffer:  # CRLF or CR line endings: rare, so normalise lazily
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return
        *events, self._buffer = buffer.split(b"\n\n")
        for event in events:
            self._event(event)

    def _event(self, event: bytes) -> None:
        if event.startswith(b"data:") and b"\n" not in event:  # the common one-line event
            payload = event[5:]
        else:
            lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
            if not lines:
                return
            payload = b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)
            self._payload(payload)
            return
        self._payload(payload[1:] if payload.startswith(b" ") else payload)

    def _payload(self, payload: bytes) -> None:
        if self.done:
            return
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            chunk = loads(payload)
        except ValueError as exc:
            raise MalformedReply(f"stream event is not JSON: {payload[:80]!r}") from exc
        if not isinstance(chunk, dict):
            raise MalformedReply("stream event is not a JSON object")
        if chunk.get("error"):
            raise MalformedReply(f"error event in the stream: {str(chunk['error'])[:200]}")
        choices = chunk.get("choices")
        if choices:
            self.saw_choices = True
            choice = choices[0]
            delta = choice.get("delta")
            content = delta.get("content") if delta else None
            if content:
                self._content_arrived()
                self._parts.append(content)
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = reason
        usage = chunk.get("usage")
        if usage:
            self.usage = usage_of(usage)

    def _content_arrived(self) -> None:
        at = self._arrived
        if at is None:
            at = self._arrived = self._now()  # one reading per arrival, not per event
        last = self._last_content_at
        if last is None:
            self.first_token_at = at
        elif at > last:
            gap = at - last
            if self.max_token_gap is None or gap > self.max_token_gap:
                self.max_token_gap = gap
        self._last_content_at = at

    def result(self) -> str:
        """The full text; raises ``MalformedReply`` for an empty or unfinished stream."""
        if self._buffer.strip():
            # A last event without its blank line arrived with the last feed's bytes.
            self.feed(b"\n\n", self._arrived)
        if not self.saw_choices:
            raise MalformedReply("the stream carried no choices")
        if self.finish_reason is None and not self.done:
            raise MalformedReply("the stream ended before the reply finished")
        return "".join(self._parts)


def parse_chat_body(raw: bytes) -> tuple[str, str | None, Usage | None]:
    """``(text, finish_reason, usage)`` of a non-streamed chat completion body."""
    try:
        body = loads(raw)
    except ValueError as exc:
        raise MalformedReply(f"reply body is not JSON: {raw[:80]!r}") from exc
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices:
        raise MalformedReply("the reply carried no choices")
    try:
        choice = choices[0]
        message = choice["message"]
        text = message.get("content") or ""
        reason = choice.get("finish_reason")
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise MalformedReply(f"unexpected reply shape: {exc!r}") from exc
    return text, reason, usage_of(body.get("usage"))
