"""An OpenAI-compatible HTTP server on loopback, scripted by the test that runs it.

    async with LoopbackServer(ReplyScript("Hi!", latency=Latency.ms(5, 1))) as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["model"] == "gpt-4o"

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/completions`` (string or batched prompts,
``stop`` honoured), ``GET /v1/models``, and Azure's
``POST /openai/deployments/{deployment}/(chat/)completions`` paths. Replies carry
``x-request-id`` and, with ``rate_limits``, ``x-ratelimit-*`` headers. Faults come from a
``FaultPlan``; ``Capacity`` scripts a saturation point. Built on aiohttp.web, so it runs on
asyncio (anyio's asyncio backend in tests). ``python -m chatsim.testing.server`` runs it as a
process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server_base import AiohttpServer
from chatsim.testing._server_capacity import Capacity, RateLimits
from chatsim.testing._server_handlers import ServerCore, ServerStats
from chatsim.testing._server_replies import RecordedRequest
from chatsim.testing._server_script import ReplyScript

__all__ = ["LoopbackServer", "RecordedRequest", "ServerStats"]


class LoopbackServer(ServerCore, AiohttpServer):
    """OpenAI-compatible server on 127.0.0.1 (``port=0``: an ephemeral port).

    ``script`` scripts replies and latency (a string is a constant reply); ``faults`` injects
    failures; ``capacity`` limits concurrent service; ``rate_limits`` adds ``x-ratelimit-*``
    headers (and optionally enforces them); ``api_key`` makes the server answer 401 to any
    other key (``Authorization: Bearer`` or Azure's ``api-key``); ``context_length`` answers
    400 ``context_length_exceeded`` above that many prompt tokens (words). ``keep_requests``
    bounds how many requests are recorded (0: none; None: all). ``clock`` stamps the records
    (default: chatsim's epoch-anchored monotonic clock, like the run's records).
    """

    def __init__(
        self,
        script: ReplyScript | str | None = None,
        *,
        faults: FaultPlan | None = None,
        capacity: Capacity | None = None,
        rate_limits: RateLimits | None = None,
        api_key: str | None = None,
        context_length: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_requests: int | None = 10_000,
        clock: Callable[[], float] | None = None,
        backlog: int = 4096,
        shutdown_timeout: float = 0.5,
    ) -> None:
        ServerCore.__init__(
            self,
            script,
            faults=faults,
            capacity=capacity,
            rate_limits=rate_limits,
            api_key=api_key,
            context_length=context_length,
            extra_headers=extra_headers,
            keep_requests=keep_requests,
            clock=clock,
        )
        AiohttpServer.__init__(
            self, host=host, port=port, backlog=backlog, shutdown_timeout=shutdown_timeout
        )

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/chat/completions", self._chat),
            web.post("/v1/completions", self._completions),
            web.post("/openai/deployments/{deployment}/chat/completions", self._chat),
            web.post("/openai/deployments/{deployment}/completions", self._completions),
            web.get("/v1/models", self._models),
        ]

    # -- what tests read ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (an OpenAI base URL)."""
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first (at most ``keep_requests``)."""
        return list(self._records or ())

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """Recorded chat and text completion requests (``/v1/models`` left out)."""
        return [r for r in self._records or () if r.endpoint in ("chat", "completions")]

    @property
    def max_waiting(self) -> int:
        """Most requests seen queued for a capacity worker at once."""
        return self._gate.max_waiting if self._gate else 0

    def inject(self, fault: Fault | FaultKind | str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests."""
        self.faults.push(fault, times)

    def clear(self) -> None:
        """Forget recorded requests and reset the counters (queued faults stay)."""
        if self._records is not None:
            self._records.clear()
        in_flight = self.stats.in_flight
        self.stats = ServerStats(in_flight=in_flight, max_in_flight=in_flight)
