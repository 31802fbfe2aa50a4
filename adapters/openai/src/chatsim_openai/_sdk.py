"""The ``sdk`` transport: the official SDK's ``chat.completions.create``, errors and all.

Slower per call than ``fast`` (pydantic models per chunk, httpx), but it is the reference:
what the SDK does is by definition what the provider supports. Its errors are translated
here, at this one boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from chatsim import TargetError
from chatsim.recording import ReplyTiming, Usage
from chatsim.targets import AdapterReply
from chatsim.targets.kit import (
    connect_timeout_error,
    is_connect_timeout,
    keep_recorded_headers,
    request_id_of,
    transient_error,
)
from chatsim_openai._errors import error_from_status

__all__ = ["SdkTransport"]

# The SDK's own request fields; anything else in a body goes through ``extra_body``.
_SDK_FIELDS = frozenset(
    {"model", "messages", "stream", "stream_options", "temperature", "max_tokens", "seed", "stop"}
)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Raw HTTP-library errors some SDK versions let escape a stream (httpx, httpx2)."""
    found: list[type[BaseException]] = [OSError]
    for module in ("httpx", "httpx2"):
        try:
            found.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_RAW_TRANSPORT_ERRORS = _transport_errors()
_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(prompt_tokens=raw.prompt_tokens or 0, completion_tokens=raw.completion_tokens or 0)


class SdkTransport:
    """One ``chat.completions.create`` per attempt."""

    def __init__(self, client: openai.AsyncOpenAI, *, provider: str) -> None:
        self._client = client
        self._provider = provider

    async def chat(self, body: dict[str, Any], now: Callable[[], float]) -> AdapterReply:
        known = {k: v for k, v in body.items() if k in _SDK_FIELDS}
        extra = {k: v for k, v in body.items() if k not in _SDK_FIELDS}
        provider = self._provider
        kept: dict[str, str] = {}
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                **known, extra_body=extra or None
            )
            kept = keep_recorded_headers(raw.headers.items())
            if body.get("stream"):
                text, reason, usage, first, gap = await self._read_stream(raw.parse(), now)
            else:
                text, reason, usage = self._read_whole(raw.parse())
                first = gap = None
        except TargetError:
            raise
        except openai.APIStatusError as exc:
            raise error_from_status(
                exc.status_code,
                exc.response.headers.items(),
                exc.response.content,
                provider=provider,
                endpoint=exc.response.request.url,
                model=body.get("model"),
            ) from exc
        except openai.APIConnectionError as exc:  # APITimeoutError included
            if is_connect_timeout(exc):  # httpx's ConnectTimeout in the chain: never sent
                raise connect_timeout_error(provider, headers=kept) from exc
            if isinstance(exc, openai.APITimeoutError):
                raise transient_error(provider, "read timed out", headers=kept) from exc
            raise transient_error(provider, f"connection failed: {exc}", headers=kept) from exc
        except openai.APIError as exc:  # an error event in the stream, a bad body
            raise transient_error(provider, f"error reply: {exc}", headers=kept) from exc
        except _RAW_TRANSPORT_ERRORS as exc:
            raise transient_error(
                provider, f"connection failed: {type(exc).__name__}", headers=kept
            ) from exc
        except _PARSE_ERRORS as exc:
            raise transient_error(provider, f"malformed reply: {exc}", headers=kept) from exc
        return AdapterReply(
            text=text,
            usage=usage,
            timing=ReplyTiming(first_token_at=first, max_token_gap=gap),
            finish_reason=reason,
            request_id=request_id_of(kept),
            headers=kept,
        )

    async def _read_stream(
        self, stream: Any, now: Callable[[], float]
    ) -> tuple[str, str | None, Usage | None, float | None, float | None]:
        parts: list[str] = []
        first: float | None = None
        last: float | None = None
        gap: float | None = None  # the longest wait between content events after the first
        reason: str | None = None
        usage: Usage | None = None
        saw_choices = False
        try:
            async for chunk in stream:
                if chunk.choices:
                    saw_choices = True
                    choice = chunk.choices[0]
                    content = choice.delta.content if choice.delta else None
                    if content:
                        at = now()
                        if first is None:
                            first = at
                        elif last is not None and (gap is None or at - last > gap):
                            gap = at - last
                        last = at
                        parts.append(content)
                    if choice.finish_reason:
                        reason = choice.finish_reason
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
        finally:
            await stream.close()
        if not saw_choices:
            raise ValueError("the stream carried no choices")
        if reason is None:  # the SDK hides [DONE]: a finished reply names its finish reason
            raise ValueError("the stream ended before the reply finished")
        return "".join(parts), reason, usage, first, gap

    @staticmethod
    def _read_whole(completion: Any) -> tuple[str, str | None, Usage | None]:
        if not completion.choices:
            raise ValueError("the reply carried no choices")
        choice = completion.choices[0]
        return choice.message.content or "", choice.finish_reason, _usage(completion.usage)

    def describe(self) -> str:
        return "sdk"

    async def aclose(self) -> None:
        """Nothing of its own: the adapter closes the SDK client."""
