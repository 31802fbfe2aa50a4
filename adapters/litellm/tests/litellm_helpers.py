"""What the litellm adapter's tests share: keys, the request, adapters on loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from chatsim.protocol import Message, Role
from chatsim.targets import TargetRequest, TargetSettings
from chatsim_litellm import LiteLLMAdapter, litellm_adapter

KEY = "sk-litellm-planted-0123456789abcdefXYZ"
SYSTEM = "You are a helpful AI assistant."
QUESTION = "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22"
REPLY = "The answer is (B), because 2 + 2 = 4."


def request(*, stream: bool = True, **kw: Any) -> TargetRequest:
    messages = (Message(Role.SYSTEM, SYSTEM), Message(Role.USER, QUESTION))
    return TargetRequest(messages=messages, stream=stream, **kw)


def openai_adapter(base_url: str, key: str = KEY) -> LiteLLMAdapter:
    """``litellm:openai/gpt-4o`` at ``base_url`` (a ``LoopbackServer``'s ``/v1``)."""
    return litellm_adapter("openai/gpt-4o", TargetSettings(base_url=base_url, api_key=key))


def anthropic_adapter(base_url: str, key: str = KEY) -> LiteLLMAdapter:
    """``litellm:anthropic/claude-sonnet-4-5`` at an ``AnthropicLoopbackServer``."""
    settings = TargetSettings(base_url=base_url, api_key=key)
    return litellm_adapter("anthropic/claude-sonnet-4-5", settings)


@asynccontextmanager
async def answering(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """An OpenAI-style endpoint that answers every request with ``status`` and ``body``
    (for errors the loopback server has no fault kind for); yields its ``/v1`` URL."""

    async def handle(_: web.Request) -> web.Response:
        return web.json_response(dict(body), status=status, headers=dict(headers or {}))

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()
