"""One adapter for every OpenAI-protocol target; profiles (``_profiles``) only build the client.

``complete`` makes exactly one attempt through the chosen transport and lets only chatsim
errors out. The transport is ``fast`` (aiohttp + a minimal SSE reader; the default, chosen by
``benchmarks/bench_transport.py``) or ``sdk`` (the official SDK end to end).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import openai

from chatsim import ConfigError
from chatsim.targets import AdapterReply, TargetAdapter, TargetRequest

__all__ = ["DEFAULT_TRANSPORT", "TRANSPORTS", "OpenAIAdapter"]

TRANSPORTS = ("fast", "sdk")
#: Measured (benchmarks/bench_transport.py): client CPU per streamed call 0.19-0.27 ms with
#: ``fast`` vs 5.1-6.5 ms with ``sdk`` at concurrency 64-512; figures in the README.
DEFAULT_TRANSPORT = "fast"


class _Transport(Protocol):
    async def chat(self, body: dict[str, Any], now: Callable[[], float]) -> AdapterReply: ...

    def describe(self) -> str: ...

    async def aclose(self) -> None: ...


class OpenAIAdapter(TargetAdapter):
    """Chat completions over the OpenAI protocol (OpenAI, Azure OpenAI, vLLM, ...)."""

    def __init__(
        self,
        model: str,
        client: openai.AsyncOpenAI,
        *,
        name: str = "openai",
        transport: str = DEFAULT_TRANSPORT,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ConfigError(
                f"unknown transport {transport!r} for the {name} adapter; use one of {TRANSPORTS}"
            )
        self.name = name
        self.model = model
        self.client = client
        self._transport: _Transport
        if transport == "fast":
            from chatsim_openai._fast import FastTransport

            self._transport = FastTransport(client, provider=name, model=model)
        else:
            from chatsim_openai._sdk import SdkTransport

            self._transport = SdkTransport(client, provider=name)

    @property
    def transport(self) -> str:
        """``fast`` or ``sdk``."""
        return self._transport.describe()

    def build_body(self, request: TargetRequest) -> dict[str, Any]:
        """The JSON body of the chat completion request."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role.value, "content": m.content} for m in request.messages],
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(request.extra)
        return body

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        return await self._transport.chat(self.build_body(request), now)

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        """Method, URL and JSON body as they would be sent; no headers, so no credentials."""
        from openai._models import FinalRequestOptions

        body = self.build_body(request)
        options = FinalRequestOptions.construct(
            method="post", url="/chat/completions", json_data=body
        )
        url = str(self.client._build_request(options).url)
        return {"method": "POST", "url": url, "body": body}

    async def aclose(self) -> None:
        await self._transport.aclose()
        await self.client.close()
