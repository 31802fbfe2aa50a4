"""The served simulator (/v1/completions) against the loopback server and canned replies."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from chatsim import AuthenticationError, PermanentError, SimulatorError, TransientError
from chatsim._util._clock import MonotonicWallClock
from chatsim.protocol import Message, Role
from chatsim.simulators import CompletionsAdapter
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.simulators._contract import UserTurnRequest
from chatsim.simulators._served import ServedSimulator, create_served_simulator, estimate_tokens
from chatsim.targets import CallPolicy, TargetRequest
from chatsim.testing import Latency, LoopbackServer, ReplyContext, ReplyScript
from chatsim.testing._faults import Fault, FaultKind

pytestmark = pytest.mark.anyio

Requests = Callable[..., list[UserTurnRequest]]
FAST = CallPolicy(backoff_initial=0.0, backoff_max=0.0, max_attempts=3, adaptive=False)


def _sim(server: LoopbackServer, **kw: object) -> ServedSimulator:
    kw.setdefault("policy", FAST)
    return create_served_simulator("chatbench", base_url=server.base_url, **kw)  # type: ignore[arg-type]


async def test_sends_the_text_prompt_with_stop_and_cleans_the_reply(
    requests_factory: Requests,
) -> None:
    async with LoopbackServer(ReplyScript(" Answer: B [END] [USER] more")) as server:
        sim = _sim(server, temperature=0.8, max_tokens=64)
        request = requests_factory(2)[1]
        (turn,) = await sim.generate([request])
        await sim.aclose()
    assert turn.text == "Answer: B"
    (recorded,) = server.completion_requests
    body = recorded.body
    assert recorded.path == "/v1/completions"
    assert body["model"] == "chatbench"
    assert body["prompt"] == sim.describe_prompt(request)
    assert body["prompt"].endswith("[USER]")
    assert body["stop"][0] == "[END]"
    assert (body["temperature"], body["max_tokens"]) == (0.8, 64)
    assert body["seed"] == request.seed % 2**31
    assert turn.usage is not None and turn.usage.completion_tokens > 0
    assert [a.outcome for a in turn.attempts] == ["ok"]
    assert turn.started_at is not None and turn.ended_at is not None
    assert turn.context_trimmed is False


async def test_a_batch_runs_concurrently(requests_factory: Requests) -> None:
    def reply(context: ReplyContext) -> str:
        return f"turn {context.body['seed']}"

    script = ReplyScript(reply, latency=Latency.ms(30))
    async with LoopbackServer(script) as server:
        sim = _sim(server)
        requests = requests_factory(6, seed=10)
        turns = await sim.generate(requests)
        await sim.aclose()
    assert [t.text for t in turns] == [f"turn {r.seed}" for r in requests]
    assert server.stats.max_in_flight == 6


async def test_transient_errors_are_retried_and_recorded(requests_factory: Requests) -> None:
    async with LoopbackServer(ReplyScript("Can you explain?")) as server:
        server.inject("server_error")
        sim = _sim(server)
        (turn,) = await sim.generate(requests_factory(1))
        await sim.aclose()
    assert turn.text == "Can you explain?"
    assert [a.outcome for a in turn.attempts] == ["transient", "ok"]
    assert turn.attempts[0].status_code == 500


async def test_a_permanent_error_is_a_simulator_error(requests_factory: Requests) -> None:
    async with LoopbackServer(ReplyScript("unused")) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=422))
        sim = _sim(server)
        with pytest.raises(SimulatorError, match="served:chatbench") as info:
            await sim.generate(requests_factory(1))
        await sim.aclose()
    assert isinstance(info.value.__cause__, PermanentError)
    assert len(server.completion_requests) == 1


async def test_api_key_is_sent_and_never_shown(
    requests_factory: Requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-simulator-secret-123456789"
    async with LoopbackServer(ReplyScript("hi"), api_key=secret) as server:
        monkeypatch.setenv("CHATSIM_SIMULATOR_API_KEY", secret)
        ok = _sim(server)
        (turn,) = await ok.generate(requests_factory(1))
        await ok.aclose()
        bad = _sim(server, api_key="sk-wrong-key-0000000000000")
        with pytest.raises(AuthenticationError) as info:  # stops the run, like a target's
            await bad.generate(requests_factory(1))
        await bad.aclose()
    assert turn.text == "hi"
    assert "simulator served:chatbench" in str(info.value)
    assert "sk-wrong-key" not in str(info.value)


async def test_one_failed_turn_fails_only_itself(requests_factory: Requests) -> None:
    async with LoopbackServer(ReplyScript("fine")) as server:
        server.inject(Fault(FaultKind.HTTP_ERROR, status=422))
        sim = _sim(server)
        with pytest.raises(BatchItemErrors) as info:
            await sim.generate(requests_factory(3))
        await sim.aclose()
    outcomes = [type(r).__name__ for r in info.value.results]
    assert sorted(outcomes) == ["SimulatorError", "UserTurn", "UserTurn"]


async def test_long_histories_are_trimmed_to_the_context(requests_factory: Requests) -> None:
    async with LoopbackServer(ReplyScript("ok")) as server:
        sim = _sim(server, context_tokens=400, max_tokens=32)
        short, long_ = requests_factory(2)[1], requests_factory(2, long_history=True)[1]
        turns = await sim.generate([short, long_])
        await sim.aclose()
    assert [t.context_trimmed for t in turns] == [False, True]
    assert sum("[...]" in r.body["prompt"] for r in server.completion_requests) == 1
    assert all(estimate_tokens(r.body["prompt"]) <= 400 - 32 for r in server.completion_requests)


async def test_a_prompt_refused_for_its_length_is_trimmed_to_the_worst_case_and_resent(
    requests_factory: Requests,
) -> None:
    # Digits tokenize at ~1 token per 2 bytes (here: the server counts words), well past the
    # 3-bytes-per-token estimate: the server refuses, the turn is rebuilt at 1 token per byte.
    numbers = " ".join(str(i % 10) for i in range(600))
    (request,) = [r for r in requests_factory(2, long_history=True) if r.history]
    history = (request.history[0], Message(Role.ASSISTANT, numbers), *request.history[2:])
    request = dataclasses.replace(request, history=history)
    # The server's context: 300 "tokens" (words); the simulator believes 400 - 32 fit.
    async with LoopbackServer(ReplyScript("Why?"), context_length=300) as server:
        sim = _sim(server, context_tokens=400, max_tokens=32)
        (turn,) = await sim.generate([request])
        await sim.aclose()
        first, second = (r.body["prompt"] for r in server.completion_requests)
    assert turn.text == "Why?" and turn.context_trimmed
    assert [(a.index, a.outcome, a.status_code) for a in turn.attempts] == [
        (0, "permanent", 400),
        (1, "ok", None),
    ]
    assert len(first.split()) > 300 >= len(second.split())
    assert estimate_tokens(first) <= 400 - 32  # the estimate's trim, refused nonetheless
    assert "[...]" in second and len(second) < len(first)  # the old digits cut further


async def test_a_prompt_still_too_long_at_the_worst_case_fails_the_turn_once(
    requests_factory: Requests,
) -> None:
    async with LoopbackServer(ReplyScript("unused")) as server:
        server.inject("context_length", times=2)
        sim = _sim(server)
        with pytest.raises(SimulatorError, match="maximum context length") as info:
            await sim.generate(requests_factory(1))
        await sim.aclose()
    assert len(server.completion_requests) == 2  # the first try and one worst-case retry
    assert [a.index for a in info.value.attempts] == [0, 1]


async def test_the_registry_builds_it_from_a_spec(
    requests_factory: Requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.simulators._registry import SimulatorSettings, create_simulator

    async with LoopbackServer(ReplyScript("Answer: C")) as server:
        monkeypatch.setenv("CHATSIM_SIMULATOR_BASE_URL", server.base_url)
        sim = create_simulator("served:chatbench", SimulatorSettings(), MonotonicWallClock())
        assert isinstance(sim, ServedSimulator) and sim.batched is False
        (turn,) = await sim.generate(requests_factory(1))
        await sim.aclose()
    assert turn.text == "Answer: C"


def test_a_chat_format_is_refused() -> None:
    from chatsim import ConfigError

    with pytest.raises(ConfigError, match="text format"):
        create_served_simulator(
            "m", base_url="http://127.0.0.1:9/v1", prompt_format="chatbench-chat-v1"
        )


class _Canned:
    """A server that answers every ``POST /v1/completions`` with one canned response."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
        self.calls = 0

    async def __aenter__(self) -> str:
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            self.calls += 1
            return web.Response(status=self.status, body=self.body, headers=self.headers)

        app = web.Application()
        app.router.add_post("/v1/completions", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def _error_body(message: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": "x", "code": code}}).encode()


async def test_a_spent_quota_stops_the_run_without_retries(requests_factory: Requests) -> None:
    # One mapping for targets and the simulator: 429 insufficient_quota is no rate limit.
    canned = _Canned(429, _error_body("You exceeded your current quota", "insufficient_quota"))
    async with canned as base_url:
        sim = create_served_simulator("chatbench", base_url=base_url, policy=FAST)
        with pytest.raises(AuthenticationError, match="insufficient_quota"):
            await sim.generate(requests_factory(1))
        await sim.aclose()
    assert canned.calls == 1


async def test_the_completions_client_reads_retry_after_and_request_ids() -> None:
    body = b'{"object": "error", "message": "engine busy", "code": 503}'  # older vLLM shape
    headers = {"Retry-After": "4", "apim-request-id": "apim-7", "Set-Cookie": "x=1"}
    async with _Canned(503, body, headers) as base_url:
        adapter = CompletionsAdapter(base_url, "chatbench")
        with pytest.raises(TransientError) as info:
            await adapter.complete(TargetRequest(messages=(), extra={"prompt": "p"}), now=_now)
        await adapter.aclose()
    error = info.value
    assert (error.status_code, error.retry_after, error.request_id) == (503, 4.0, "apim-7")
    assert error.headers == {"retry-after": "4", "apim-request-id": "apim-7"}
    assert str(error) == (
        "the simulator server answered HTTP 503 for model 'chatbench' at "
        f"{base_url}/completions: engine busy"
    )


async def test_an_unfollowed_redirect_is_permanent() -> None:
    async with _Canned(304, b"") as base_url:
        adapter = CompletionsAdapter(base_url, "chatbench")
        with pytest.raises(PermanentError, match="HTTP 304"):
            await adapter.complete(TargetRequest(messages=(), extra={"prompt": "p"}), now=_now)
        await adapter.aclose()


async def test_a_malformed_completion_is_transient_and_keeps_the_request_id() -> None:
    async with _Canned(200, b"<html>proxy</html>", {"x-request-id": "req_9"}) as base_url:
        adapter = CompletionsAdapter(base_url, "chatbench")
        with pytest.raises(TransientError, match="malformed completion") as info:
            await adapter.complete(TargetRequest(messages=(), extra={"prompt": "p"}), now=_now)
        await adapter.aclose()
    assert info.value.request_id == "req_9" and info.value.status_code is None


def _now() -> float:
    return 0.0
