"""litellm as a chatsim target: one ``litellm.acompletion`` per attempt, streamed or not.

The catch-all for providers without a native adapter (``litellm:<provider>/<model>``). It is
the slow path: litellm does a great deal of work per call (parameter mapping, logging
objects, cost lookup; see the README for the measured CPU per call), so a provider that has a
native chatsim adapter should use that one.

Every call switches litellm's own retries off (``num_retries=0``, and ``max_retries=0`` for
the SDK clients it builds; no ``fallbacks``): the core retries, once, for every adapter.
``drop_params=True`` lets litellm drop what a provider does not take (``seed`` for Anthropic,
say) instead of refusing the request, as the native adapters do.

Timing (streamed): ``first_token_at`` when the first non-empty content delta is read,
``max_token_gap`` between content deltas, ``ended_at`` when the stream is done. litellm does
not say when the request left, so ``sent_at`` stays None. A stream that ends without a
``finish_reason`` is a cut stream: a ``TransientError``. Usage comes from the stream's usage
chunk (``stream_options={"include_usage": True}``) or the whole response.

The request id is the provider's, from the response headers litellm keeps in
``_hidden_params["additional_headers"]`` (each provider header prefixed ``llm_provider-``):
OpenAI's ``x-request-id``, Anthropic's ``request-id``, ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from chatsim import TargetError
from chatsim.recording import ReplyTiming, Usage
from chatsim.targets import AdapterReply, TargetAdapter, TargetRequest
from chatsim.targets.kit import keep_recorded_headers, request_id_of
from chatsim_litellm._errors import PROVIDER, error_from_litellm

__all__ = ["LiteLLMAdapter", "recorded_headers"]

_PROVIDER_PREFIX: Final = "llm_provider-"


def recorded_headers(hidden_params: Mapping[str, Any] | None) -> dict[str, str]:
    """The provider's response headers worth recording, from litellm's ``_hidden_params``.

    litellm keeps every provider header as ``llm_provider-<name>``; the prefix is removed and
    the core's allow-list applied (secrets scrubbed).
    """
    extra = (hidden_params or {}).get("additional_headers") or {}
    provider = [
        (name[len(_PROVIDER_PREFIX) :], str(value))
        for name, value in extra.items()
        if name.startswith(_PROVIDER_PREFIX)
    ]
    return keep_recorded_headers(provider)


@dataclass(slots=True)
class _Read:
    """What one reply carried."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    headers: dict[str, str]
    first: float | None = None
    gap: float | None = None
    ended: float | None = None


class LiteLLMAdapter(TargetAdapter):
    """Any provider litellm knows, through ``litellm.acompletion``."""

    def __init__(
        self,
        model: str,
        sdk: ModuleType,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        api_version: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.name = PROVIDER
        self.model = model
        self.sdk = sdk
        self._api_key = api_key
        self.api_base = api_base
        self.api_version = api_version
        self._headers = dict(headers or {})
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"LiteLLMAdapter(model={self.model!r}, api_base={self.api_base!r})"

    def build_kwargs(self, request: TargetRequest) -> dict[str, Any]:
        """The ``litellm.acompletion`` arguments for ``request``, credentials excluded."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role.value, "content": m.content} for m in request.messages],
            "num_retries": 0,
            "max_retries": 0,
            "drop_params": True,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_version:
            kwargs["api_version"] = self.api_version
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        kwargs.update(request.extra)
        return kwargs

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        kwargs = self.build_kwargs(request)
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if self._headers:
            kwargs["extra_headers"] = dict(self._headers)
        response: Any = None
        try:
            response = await self.sdk.acompletion(**kwargs)
            read = await _read_stream(response, now) if request.stream else _read_whole(response)
        except TargetError:
            raise
        except Exception as exc:
            # A stream that broke midway has its response headers (and request id) already.
            kept = recorded_headers(getattr(response, "_hidden_params", None))
            error = error_from_litellm(self.sdk, exc, kept)
            if error is None:
                raise
            raise error from exc
        return AdapterReply(
            text=read.text,
            usage=read.usage,
            timing=ReplyTiming(
                first_token_at=read.first, max_token_gap=read.gap, ended_at=read.ended
            ),
            finish_reason=read.finish_reason,
            request_id=request_id_of(read.headers),
            headers=read.headers,
        )

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        """The ``litellm.acompletion`` arguments as they would be passed; no credentials."""
        return {"function": "litellm.acompletion", "kwargs": self.build_kwargs(request)}


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(
        prompt_tokens=int(raw.prompt_tokens or 0), completion_tokens=int(raw.completion_tokens or 0)
    )


async def _read_stream(stream: Any, now: Callable[[], float]) -> _Read:
    parts: list[str] = []
    first = last = gap = None
    reason: str | None = None
    usage: Usage | None = None
    try:
        async for chunk in stream:
            for choice in chunk.choices:
                text = choice.delta.content
                if text:
                    at = now()
                    if first is None:
                        first = at
                    elif last is not None and (gap is None or at - last > gap):
                        gap = at - last
                    last = at
                    parts.append(text)
                reason = choice.finish_reason or reason
            usage = _usage(getattr(chunk, "usage", None)) or usage
        ended = now()
    finally:
        await stream.aclose()
    if reason is None:
        raise ValueError("the stream ended without a finish_reason")
    headers = recorded_headers(getattr(stream, "_hidden_params", None))
    return _Read("".join(parts), reason, usage, headers, first, gap, ended)


def _read_whole(response: Any) -> _Read:
    if not response.choices:
        raise ValueError("the reply carried no choices")
    choice = response.choices[0]
    text = choice.message.content or ""
    headers = recorded_headers(getattr(response, "_hidden_params", None))
    return _Read(text, choice.finish_reason, _usage(getattr(response, "usage", None)), headers)
