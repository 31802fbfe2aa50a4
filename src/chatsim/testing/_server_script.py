"""What the loopback server replies, and how fast: the part of the server a test scripts.

A ``ReplyScript`` holds the reply (a constant, a function of the request, or a queue of
texts), the latency (time to first token, delay between chunks, number of chunks) and
per-model overrides. Token counts are whitespace-separated words: a stand-in that is
deterministic and cheap, which is all a test needs from ``usage``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_REPLY",
    "Latency",
    "ReplyContext",
    "ReplyScript",
    "ScriptExhaustedError",
    "count_tokens",
    "shape_reply",
    "split_chunks",
]

DEFAULT_REPLY = "Hello from the loopback server."
DEFAULT_MODEL = "loopback"

_WORD = re.compile(r"\s*\S+")

Endpoint = Literal["chat", "completions"]


class ScriptExhaustedError(LookupError):
    """A queue of replies ran out; the server answers 500 and names the cause."""


@dataclass(frozen=True, slots=True)
class Latency:
    """How fast the server replies. All times in seconds."""

    first_token: float = 0.0
    """Delay from receiving the request to sending the first content chunk."""
    inter_token: float = 0.0
    """Delay between consecutive content chunks."""
    chunks: int | None = None
    """Split the text into this many chunks (by characters); None: one chunk per word."""

    def __post_init__(self) -> None:
        if self.first_token < 0 or self.inter_token < 0:
            raise ValueError("latencies must be >= 0")
        if self.chunks is not None and self.chunks < 1:
            raise ValueError("chunks must be >= 1 (or None for one chunk per word)")

    @classmethod
    def ms(
        cls, first_token: float = 0.0, inter_token: float = 0.0, chunks: int | None = None
    ) -> Latency:
        """The same, with times in milliseconds."""
        return cls(first_token / 1000.0, inter_token / 1000.0, chunks)

    def total(self, n_chunks: int) -> float:
        """Seconds a reply of ``n_chunks`` chunks takes to generate."""
        return self.first_token + self.inter_token * max(0, n_chunks - 1)


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What a reply function sees of one request (one prompt of a batched completion)."""

    endpoint: Endpoint
    """``chat`` (``/v1/chat/completions``) or ``completions`` (``/v1/completions``)."""
    model: str
    """The request's model (the deployment, on an Azure-style path)."""
    body: Mapping[str, Any]
    """The whole JSON body as received."""
    messages: tuple[Mapping[str, Any], ...] = ()
    """Chat messages (chat only)."""
    prompt: str | None = None
    """The prompt of this choice (completions only)."""
    index: int = 0
    """Position of ``prompt`` in a batched ``prompt`` list."""

    @property
    def last_user_message(self) -> str:
        """Content of the last user message, or the prompt; ``""`` when there is none."""
        if self.prompt is not None:
            return self.prompt
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else ""
        return ""


Replier = Callable[[ReplyContext], str]


class ReplyScript:
    """The server's behaviour: reply text, latency and per-model overrides.

    ``reply`` is a constant string, a function ``(ReplyContext) -> str``, or an iterable of
    strings served in order (a queue: once empty, requests get a 500 that says so).
    ``models`` maps a model name to the script for requests naming that model.
    """

    def __init__(
        self,
        reply: str | Replier | Iterable[str] = DEFAULT_REPLY,
        *,
        latency: Latency | None = None,
        models: Mapping[str, ReplyScript] | None = None,
        finish_reason: str = "stop",
    ) -> None:
        self._constant: str | None = None
        self._function: Replier | None = None
        self._queue: deque[str] | None = None
        if isinstance(reply, str):
            self._constant = reply
        elif callable(reply):
            self._function = reply
        else:
            self._queue = deque(reply)
        self.latency = latency or Latency()
        self.models: dict[str, ReplyScript] = dict(models or {})
        self.finish_reason = finish_reason

    def for_model(self, model: str) -> ReplyScript:
        """The script that serves ``model``: its override, else this one."""
        return self.models.get(model, self)

    def model_names(self) -> list[str]:
        """Model ids ``/v1/models`` lists: the default one plus every override."""
        return [DEFAULT_MODEL, *sorted(self.models)]

    def push(self, *texts: str) -> None:
        """Append replies to the queue (turns a constant or function script into a queue)."""
        if self._queue is None:
            self._queue = deque()
            self._constant = self._function = None
        self._queue.extend(texts)

    @property
    def remaining(self) -> int | None:
        """Replies left in the queue; None for constant and function scripts."""
        return None if self._queue is None else len(self._queue)

    def text_for(self, context: ReplyContext) -> str:
        """The raw reply for one request (before ``stop`` and ``max_tokens`` are applied)."""
        if self._constant is not None:
            return self._constant
        if self._function is not None:
            return self._function(context)
        queue = self._queue
        if not queue:
            raise ScriptExhaustedError("the loopback server's reply queue is empty")
        return queue.popleft()


@dataclass(frozen=True, slots=True)
class ShapedReply:
    """A reply after ``stop`` and ``max_tokens``, split into the chunks to send."""

    text: str
    chunks: tuple[str, ...]
    finish_reason: str
    completion_tokens: int


def count_tokens(text: str) -> int:
    """Whitespace-separated words: the server's stand-in for tokens."""
    return len(text.split())


@lru_cache(maxsize=1024)
def split_chunks(text: str, chunks: int | None) -> tuple[str, ...]:
    """Pieces of ``text`` that concatenate back to it exactly.

    ``None`` gives one piece per word (leading whitespace attached); a number gives that many
    pieces of near-equal length (fewer when the text is shorter).
    """
    if not text:
        return ()
    if chunks is None:
        pieces = _WORD.findall(text)
        consumed = sum(map(len, pieces))
        if not pieces:
            return (text,)
        if consumed < len(text):  # trailing whitespace
            pieces[-1] += text[consumed:]
        return tuple(pieces)
    n = min(chunks, len(text))
    size, rest = divmod(len(text), n)
    out: list[str] = []
    start = 0
    for i in range(n):
        end = start + size + (1 if i < rest else 0)
        out.append(text[start:end])
        start = end
    return tuple(out)


def shape_reply(
    text: str,
    *,
    stop: str | list[str] | None,
    max_tokens: int | None,
    finish_reason: str,
    latency: Latency,
) -> ShapedReply:
    """Apply ``stop`` (cut before the first stop string, which is dropped, as OpenAI and vLLM
    do) and ``max_tokens`` (cut to that many words, ``finish_reason="length"``)."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    if cut >= 0:
        text, finish_reason = text[:cut], "stop"
    if max_tokens is not None and max_tokens >= 0:
        words = _WORD.findall(text)
        if len(words) > max_tokens:
            text, finish_reason = "".join(words[:max_tokens]), "length"
    return ShapedReply(
        text=text,
        chunks=split_chunks(text, latency.chunks),
        finish_reason=finish_reason,
        completion_tokens=count_tokens(text),
    )
