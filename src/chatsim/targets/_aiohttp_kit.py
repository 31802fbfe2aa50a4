"""What an adapter's own aiohttp transport needs around its request: a session per event loop,
the SDK client's timeouts, and the environment's proxy (one copy for every fast transport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

__all__ = ["LoopSession", "env_proxy", "sdk_timeout"]


def env_proxy(url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The ``HTTP(S)_PROXY``/``NO_PROXY`` proxy for ``url``, as an SDK's httpx would use; look
    it up once per endpoint (it reads files), not per request as aiohttp's ``trust_env`` does."""
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None


def sdk_timeout(timeout: Any) -> aiohttp.ClientTimeout:
    """An SDK client's connect/read timeouts (None, seconds, or an httpx-style object with
    ``connect``/``read``) for aiohttp; the core's per-attempt deadline sits above them."""
    if timeout is None:
        return aiohttp.ClientTimeout(total=None)
    if isinstance(timeout, int | float):
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    return aiohttp.ClientTimeout(
        total=None,
        sock_connect=getattr(timeout, "connect", None),
        sock_read=getattr(timeout, "read", None),
    )


class LoopSession:
    """One aiohttp session, made lazily by ``make`` for the running event loop (a session
    belongs to the loop that runs it) and remade when the loop changes or it was closed."""

    def __init__(self, make: Callable[[], aiohttp.ClientSession]) -> None:
        self._make = make
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session, self._loop = self._make(), loop
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
