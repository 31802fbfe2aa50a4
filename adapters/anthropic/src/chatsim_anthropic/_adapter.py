"""The Anthropic Messages API as a chatsim target: one ``POST /v1/messages`` per attempt.

Configured by the official SDK's ``AsyncAnthropic``, SDK retries off; the ``bedrock`` profile
passes ``AsyncAnthropicBedrockMantle`` instead (the same ``messages`` resource and wire, under
``/anthropic`` on Bedrock's host). Two transports: ``fast`` (``_fast``: aiohttp and ``_sse``,
the SDK supplying URL, auth and headers) and ``sdk`` (``messages.with_raw_response.create``,
for the headers; below). ``complete`` lets only chatsim errors out (``_errors`` translates).

The request: system messages joined into ``system``; the rest as ``messages``; ``max_tokens``
is required by the API, so ``TargetRequest.max_tokens`` or the adapter's default
(``DEFAULT_MAX_TOKENS``); ``temperature``; ``stop`` as ``stop_sequences``; ``extra`` passed
through. ``seed`` has no Anthropic equivalent and is not sent.

Timing (streamed, both transports): ``first_token_at`` when the first non-empty
``text_delta`` is read, ``max_token_gap`` between text deltas, ``ended_at`` at
``message_stop``. Neither says when the request left, so ``sent_at`` stays None (the
attempt's start stands for it).
A stream that ends without ``message_stop`` is a cut stream: a ``TransientError``.

``finish_reason`` speaks the core's vocabulary, as every adapter does (``finish_reason_of``):
``end_turn`` and ``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``, ``refusal`` ->
``content_filter``; any other stop reason as Anthropic names it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anthropic

from chatsim import ConfigError, TargetError
from chatsim.protocol import Role
from chatsim.recording import ReplyTiming, Usage
from chatsim.targets import AdapterReply, TargetAdapter, TargetRequest
from chatsim.targets.kit import keep_recorded_headers, request_id_of
from chatsim_anthropic._errors import PROVIDER, error_from_sdk

if TYPE_CHECKING:
    from chatsim_anthropic._fast import FastTransport

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_TRANSPORT",
    "TRANSPORTS",
    "AnthropicAdapter",
    "MessagesClient",
    "finish_reason_of",
    "recorded_headers",
]

#: The SDK clients whose ``messages`` resource the adapter drives: the Claude API's, and
#: Bedrock's Anthropic-native (Mantle) endpoint's.
MessagesClient = anthropic.AsyncAnthropic | anthropic.AsyncAnthropicBedrockMantle

TRANSPORTS: Final = ("fast", "sdk")
#: Measured (``benchmarks/bench_adapters.py --only anthropic --only anthropic-sdk``): client
#: CPU per streamed call 0.6-1.1 ms with ``fast`` vs 5.1-6.2 ms with ``sdk`` at concurrency
#: 64-512; figures in the README.
DEFAULT_TRANSPORT: Final = "fast"

#: ``max_tokens`` sent when the request names none (the Messages API requires one).
DEFAULT_MAX_TOKENS: Final = 1024

# The installed SDK's own ``messages.create`` arguments (read from its signature: they vary
# by version, 2.x dropped ``temperature``); every other body field goes through ``extra_body``,
# so the JSON on the wire is the same either way.
_SDK_FIELDS: Final = frozenset(
    inspect.signature(anthropic.resources.messages.AsyncMessages.create).parameters
) - {"self", "extra_headers", "extra_query", "extra_body", "timeout"}

_FINISH: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "refusal": "content_filter",
}


def finish_reason_of(stop_reason: str | None) -> str | None:
    """Anthropic's ``stop_reason`` in the core's words (``stop``, ``length``, ...)."""
    return None if stop_reason is None else _FINISH.get(stop_reason, stop_reason)


def recorded_headers(headers: Any) -> dict[str, str]:
    """The core's allow-listed headers (``anthropic-ratelimit-*`` among them), scrubbed."""
    return keep_recorded_headers(list(headers.items()))


@dataclass(slots=True)
class _Read:
    """What one reply carried."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    first: float | None = None
    gap: float | None = None
    ended: float | None = None


class AnthropicAdapter(TargetAdapter):
    """Claude models through the Messages API (``name``: the profile, ``anthropic`` or
    ``bedrock``, named in errors and records)."""

    def __init__(
        self,
        model: str,
        client: MessagesClient,
        *,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        name: str = PROVIDER,
        transport: str = DEFAULT_TRANSPORT,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ConfigError(
                f"unknown transport {transport!r} for the {name} adapter; use one of {TRANSPORTS}"
            )
        self.name = name
        self.model = model
        self.client = client
        self.default_max_tokens = default_max_tokens
        self._fast: FastTransport | None = None
        if transport == "fast":
            from chatsim_anthropic._fast import FastTransport

            self._fast = FastTransport(client, provider=name, model=model)

    @property
    def transport(self) -> str:
        """``fast`` (aiohttp and ``_sse``) or ``sdk`` (the official SDK end to end)."""
        return "sdk" if self._fast is None else "fast"

    def __repr__(self) -> str:
        url = str(self.client.base_url)
        return f"AnthropicAdapter(name={self.name!r}, model={self.model!r}, base_url={url!r})"

    def build_body(self, request: TargetRequest) -> dict[str, Any]:
        """The JSON body of the Messages API request."""
        system = [m.content for m in request.messages if m.role is Role.SYSTEM]
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens
            if request.max_tokens is not None
            else self.default_max_tokens,
            "messages": [
                {"role": m.role.value, "content": m.content}
                for m in request.messages
                if m.role is not Role.SYSTEM
            ],
        }
        if system:
            body["system"] = "\n\n".join(system)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.stream:
            body["stream"] = True
        body.update(request.extra)
        return body

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        body = self.build_body(request)
        if self._fast is not None:
            return await self._fast.send(body, now)
        kept: dict[str, str] = {}
        try:
            known = {k: v for k, v in body.items() if k in _SDK_FIELDS}
            extra = {k: v for k, v in body.items() if k not in _SDK_FIELDS}
            raw = await self.client.messages.with_raw_response.create(
                **known, extra_body=extra or None
            )
            kept = recorded_headers(raw.headers)
            parsed: Any = await raw.parse()
            read = await _read_stream(parsed, now) if body.get("stream") else _read_whole(parsed)
        except TargetError:
            raise
        except Exception as exc:
            error = error_from_sdk(exc, kept, model=self.model, provider=self.name)
            if error is None:
                raise
            raise error from exc
        return AdapterReply(
            text=read.text,
            usage=read.usage,
            timing=ReplyTiming(
                first_token_at=read.first, max_token_gap=read.gap, ended_at=read.ended
            ),
            finish_reason=finish_reason_of(read.finish_reason),
            request_id=request_id_of(kept),
            headers=kept,
        )

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        """Method, URL and JSON body as they would be sent; no headers, so no credentials."""
        url = f"{str(self.client.base_url).rstrip('/')}/v1/messages"
        return {"method": "POST", "url": url, "body": self.build_body(request)}

    async def aclose(self) -> None:
        if self._fast is not None:
            await self._fast.aclose()
        await self.client.close()


async def _read_stream(stream: Any, now: Callable[[], float]) -> _Read:
    parts: list[str] = []
    first = last = gap = ended = None
    reason: str | None = None
    prompt_tokens = completion_tokens = 0
    started = False
    try:
        async for event in stream:
            kind = event.type
            if kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta" and delta.text:
                    at = now()
                    if first is None:
                        first = at
                    elif last is not None and (gap is None or at - last > gap):
                        gap = at - last
                    last = at
                    parts.append(delta.text)
            elif kind == "message_start":
                started = True
                usage = event.message.usage
                prompt_tokens = usage.input_tokens or 0
                completion_tokens = usage.output_tokens or 0
            elif kind == "message_delta":
                reason = event.delta.stop_reason or reason
                if event.usage is not None and event.usage.output_tokens is not None:
                    completion_tokens = event.usage.output_tokens
            elif kind == "message_stop":
                ended = now()
                break
    finally:
        await stream.close()
    if not started:
        raise ValueError("the stream carried no message_start")
    if ended is None:
        raise ValueError("the stream ended before message_stop")
    usage_out = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    return _Read("".join(parts), reason, usage_out, first, gap, ended)


def _read_whole(message: Any) -> _Read:
    content = message.content
    if content is None or message.usage is None:
        raise ValueError("the reply carried no content or usage")
    text = "".join(block.text for block in content if getattr(block, "type", None) == "text")
    usage = Usage(
        prompt_tokens=message.usage.input_tokens or 0,
        completion_tokens=message.usage.output_tokens or 0,
    )
    return _Read(text, message.stop_reason, usage)
