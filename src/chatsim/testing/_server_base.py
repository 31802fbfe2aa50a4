"""The aiohttp lifecycle every loopback server shares: bind a loopback port, serve, close.

A subclass lists its routes (``_routes``) and may hook ``_on_start`` / ``_on_close`` for what it
owns besides the app (a client session, an upstream server). Binding our own socket (rather
than ``TCPSite``) sets the listen backlog and reports the ephemeral port at once.
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["AiohttpServer"]


class AiohttpServer:
    """One aiohttp app on ``host:port`` (``port=0``: an ephemeral port), as an async context."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 1024,
        shutdown_timeout: float = 0.5,
        client_max_size: int = 64 * 1024 * 1024,
    ) -> None:
        self.host = host
        self.port = port
        self._backlog = backlog
        self._shutdown_timeout = shutdown_timeout
        self._client_max_size = client_max_size
        self._runner: web.AppRunner | None = None

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def _on_start(self) -> None:
        """Runs before the app binds (start what the handlers need)."""

    async def _on_close(self) -> None:
        """Runs after the app stopped serving."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and serve; ``port`` holds the bound port afterwards."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        await self._on_start()
        app = web.Application(client_max_size=self._client_max_size)
        app.add_routes(self._routes())
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,  # a client that gives up frees its worker
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(self._backlog)
            sock.setblocking(False)
            await web.SockSite(runner, sock, backlog=self._backlog).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            await self._on_close()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def close(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            await self._on_close()

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"
