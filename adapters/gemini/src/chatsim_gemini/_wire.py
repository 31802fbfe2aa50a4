"""The ``fast`` transport's Gemini REST wire: the request body, and the reply parsed from JSON.

Hand-written on purpose: building the body through the SDK's pydantic types and converters
costs ~2.7 ms of CPU per call, parsing each streamed chunk into a ``GenerateContentResponse``
more (``benchmarks/bench_adapters.py --only gemini``). The body is exactly the one the SDK
sends for the fields chatsim sets (a test holds them equal); a request with ``extra`` fields
goes through the SDK's converter (``_fast``), which knows where each config field belongs.

The stream is ``?alt=sse``: events split on blank lines, ``data:`` payloads each one
``GenerateContentResponse`` as JSON (comments and other fields ignored, as the SDK does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chatsim.protocol import Role
from chatsim.recording import Usage
from chatsim.targets import TargetRequest

__all__ = [
    "GeminiStream",
    "MalformedReply",
    "Reply",
    "dumps",
    "finish_reason_of",
    "loads",
    "plain_body",
]


def _json_codec() -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    """orjson where installed (several times faster per chunk), else the standard library."""
    try:
        import orjson
    except ImportError:
        return json.loads, lambda obj: json.dumps(obj, separators=(",", ":")).encode()
    return orjson.loads, orjson.dumps


loads, dumps = _json_codec()


# Gemini's FinishReason names in the vocabulary the rest of chatsim uses (OpenAI's).
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def finish_reason_of(reason: Any) -> str | None:
    """``STOP`` -> ``stop``, ``MAX_TOKENS`` -> ``length``, safety reasons -> ``content_filter``;
    any other reason lower-cased; None stays None."""
    if reason is None:
        return None
    name = str(getattr(reason, "value", reason))
    return _FINISH.get(name, name.lower())


class MalformedReply(ValueError):
    """The reply is not what the wire promises (bad JSON, not an object)."""


def plain_body(request: TargetRequest) -> dict[str, Any]:
    """The ``generateContent`` body for a request without ``extra`` fields, as the SDK builds
    it (``systemInstruction`` with role ``user``, config fields in camel case)."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role is Role.SYSTEM:
            system.append(message.content)
            continue
        role = "model" if message.role is Role.ASSISTANT else "user"
        contents.append({"parts": [{"text": message.content}], "role": role})
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}], "role": "user"}
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.seed is not None:
        config["seed"] = request.seed
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if config:
        body["generationConfig"] = config
    return body


class Reply:
    """What one ``GenerateContentResponse`` (or a stream of them) says, folded together: the
    text (thought parts left out), the last finish reason, usage and response id seen."""

    __slots__ = ("blocked", "candidates", "error", "events", "reason", "response_id", "usage")

    def __init__(self) -> None:
        self.events = 0
        self.candidates = False
        self.reason: str | None = None
        self.usage: Usage | None = None
        self.response_id: str | None = None
        self.blocked: str | None = None
        self.error: dict[str, Any] | None = None

    def take(self, response: Any) -> str:
        """Fold one response in; returns its text."""
        if not isinstance(response, dict):
            raise MalformedReply("a reply event is not a JSON object")
        self.events += 1
        error = response.get("error")
        if error:
            self.error = error if isinstance(error, dict) else {"message": str(error)}
            return ""
        self.response_id = response.get("responseId") or self.response_id
        feedback = response.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            self.blocked = str(feedback["blockReason"])
        meta = response.get("usageMetadata")
        if isinstance(meta, dict):
            completion = (meta.get("candidatesTokenCount") or 0) + (
                meta.get("thoughtsTokenCount") or 0
            )
            self.usage = Usage(
                prompt_tokens=meta.get("promptTokenCount") or 0, completion_tokens=completion
            )
        candidates = response.get("candidates")
        if not candidates:
            return ""
        self.candidates = True
        candidate = candidates[0]
        self.reason = candidate.get("finishReason") or self.reason
        parts = (candidate.get("content") or {}).get("parts") or ()
        return "".join(p["text"] for p in parts if p.get("text") and not p.get("thought"))


class GeminiStream:
    """Accumulates one ``streamGenerateContent?alt=sse`` reply from raw body bytes, dating
    the first text and the gaps between texts by ``now`` at the read that carried them."""

    __slots__ = ("_buffer", "_last", "_now", "_parts", "first_token_at", "max_token_gap", "reply")

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._buffer = b""
        self._parts: list[str] = []
        self._last: float | None = None
        self.first_token_at: float | None = None
        self.max_token_gap: float | None = None
        self.reply = Reply()

    def feed(self, data: bytes) -> None:
        buffer = self._buffer + data
        if b"\r" in buffer:  # Gemini frames events with CRLF
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return
        *events, self._buffer = buffer.split(b"\n\n")
        for event in events:
            self._event(event)

    def finish(self) -> str:
        """The whole text; a last event without its blank line is taken too."""
        if self._buffer.strip():
            self.feed(b"\n\n")
        return "".join(self._parts)

    def _event(self, event: bytes) -> None:
        lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
        if not lines or self.reply.error is not None:
            return
        payload = b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)
        try:
            response = loads(payload)
        except ValueError as exc:
            raise MalformedReply(f"stream event is not JSON: {payload[:80]!r}") from exc
        text = self.reply.take(response)
        if text:
            at = self._now()
            if self._last is None:
                self.first_token_at = at
            elif self.max_token_gap is None or at - self._last > self.max_token_gap:
                self.max_token_gap = at - self._last
            self._last = at
            self._parts.append(text)
