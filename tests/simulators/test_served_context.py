"""Issue 15: the served simulator's context length (read from the server's ``/v1/models``, or
set) and its seed sending, as options validated like hf:'s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from chatsim import ConfigError, SimulatorError
from chatsim._util._clock import MonotonicWallClock
from chatsim.config import RunConfig
from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.questions import Question
from chatsim.simulators._contract import UserTurnRequest
from chatsim.simulators._registry import SimulatorSettings, create_simulator
from chatsim.simulators._served import ServedSimulator, estimate_tokens
from chatsim.simulators._served_limits import max_model_len_of
from chatsim.targets import CallPolicy
from chatsim.testing import LoopbackServer, ReplyScript

pytestmark = pytest.mark.anyio

FAST = CallPolicy(backoff_initial=0.0, backoff_max=0.0, max_attempts=3, adaptive=False)
#: 1,500 three-byte words: ~1,500 estimated tokens, under a 2,048 context's prompt budget of
#: 1,792 but over a 1,024-word server's limit (the loopback server counts words).
LONG_REPLY = "ab " * 1500 + "The answer is A."


def _turn(index: int, *, long: bool) -> UserTurnRequest:
    question = Question(
        id=f"q{index}", subject="elementary_mathematics", stem=f"What is {index} + 1?",
        options=(str(index + 1), "0", "7", "9"), gold="A",
    )  # fmt: skip
    history: tuple[Message, ...] = ()
    if long:
        history = (
            Message(Role.USER, "Can you help me with this sum?"),
            Message(Role.ASSISTANT, LONG_REPLY),
            Message(Role.USER, "Are you sure?"),
            Message(Role.ASSISTANT, "Yes, the answer is A."),
        )
    step = SimulatorStep.NEXT if long else SimulatorStep.FIRST
    return UserTurnRequest(f"e{index}", question, history, step, seed=2**40 + index)


def _served(base_url: str, **options: Any) -> ServedSimulator:
    settings = SimulatorSettings(base_url=base_url, policy=FAST, options=options)
    sim = create_simulator("served:chatbench", settings, MonotonicWallClock())
    assert isinstance(sim, ServedSimulator)
    return sim


# -- reading the listing ----------------------------------------------------------------------


VLLM_LORA = {
    "object": "list",
    "data": [
        {"id": "mistralai/Mistral-7B-v0.1", "max_model_len": 1024, "parent": None},
        {"id": "chatbench", "max_model_len": None, "parent": "mistralai/Mistral-7B-v0.1"},
    ],
}


@pytest.mark.parametrize(
    ("listing", "model", "expected"),
    [
        (VLLM_LORA, "chatbench", 1024),  # a LoRA: its base model's
        (VLLM_LORA, "mistralai/Mistral-7B-v0.1", 1024),
        ({"data": [{"id": "m", "max_model_len": 4096}]}, "m", 4096),
        ({"data": [{"id": "other", "max_model_len": 512}]}, "m", 512),  # one server, one context
        ({"data": [{"id": "a", "max_model_len": 51}, {"id": "b", "max_model_len": 80}]}, "m", None),
        ({"data": [{"id": "m", "object": "model"}]}, "m", None),  # OpenAI-style: says nothing
        ({"data": [{"id": "m", "max_model_len": True}]}, "m", None),
        ({"data": [{"id": "m", "max_model_len": "1024"}]}, "m", None),
        ({"error": "nope"}, "m", None),
        ({"data": 5}, "m", None),
        ([], "m", None),
    ],
)  # fmt: skip
def test_max_model_len_of_a_listing(listing: Any, model: str, expected: int | None) -> None:
    assert max_model_len_of(listing, model) == expected


# -- the served simulator against a 1,024-token server ---------------------------------------


async def test_a_1024_token_server_is_read_once_and_every_turn_fits() -> None:
    async with LoopbackServer(ReplyScript("Why is that?"), context_length=1024) as server:
        sim = _served(server.base_url)
        turns = await sim.generate([_turn(0, long=True), _turn(1, long=True), _turn(2, long=False)])
        again = await sim.generate([_turn(3, long=True)])
        await sim.aclose()
        listed = [r for r in server.requests if r.endpoint == "models"]
        sent = [r.body["prompt"] for r in server.completion_requests]
    assert sim.context_tokens == 1024
    assert len(listed) == 1  # once, though three first turns asked at the same time
    assert [t.text for t in [*turns, *again]] == ["Why is that?"] * 4
    assert [t.context_trimmed for t in [*turns, *again]] == [True, True, False, True]
    assert all(a.outcome == "ok" for t in [*turns, *again] for a in t.attempts)  # no 400 at all
    assert len(sent) == 4
    assert all(estimate_tokens(p) <= 1024 - 256 and len(p.split()) <= 1024 for p in sent)


async def test_a_set_context_length_wins_and_the_server_is_not_asked() -> None:
    async with LoopbackServer(ReplyScript("Why?"), context_length=1024) as server:
        sim = _served(server.base_url, context_tokens=2048)
        (turn,) = await sim.generate([_turn(0, long=True)])
        await sim.aclose()
        endpoints = [r.endpoint for r in server.requests]
    # Believing 2,048, the prompt is refused for its length, then rebuilt at the worst case.
    assert endpoints == ["completions", "completions"]
    assert [(a.outcome, a.status_code) for a in turn.attempts] == [("permanent", 400), ("ok", None)]
    assert sim.context_tokens == 2048


async def test_a_server_that_does_not_say_leaves_2048_and_a_warning() -> None:
    async with LoopbackServer(ReplyScript("Why?")) as server:
        sim = _served(server.base_url)
        with capture_logs() as logs:
            (turn,) = await sim.generate([_turn(0, long=False)])
        await sim.aclose()
    assert turn.text == "Why?" and sim.context_tokens == 2048
    (warning,) = [e for e in logs if e["log_level"] == "warning"]
    assert "context length unknown" in warning["event"]
    assert warning["context_tokens"] == 2048 and "no max_model_len" in warning["why"]
    assert "context_tokens=N" in warning["hint"]


async def test_a_server_without_models_endpoint_still_serves() -> None:
    from aiohttp import web

    async def complete(request: web.Request) -> web.Response:
        body = {"choices": [{"text": "Hello?", "finish_reason": "stop"}], "usage": None}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/v1/completions", complete)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        sim = _served(f"http://127.0.0.1:{runner.addresses[0][1]}/v1")
        with capture_logs() as logs:
            (turn,) = await sim.generate([_turn(0, long=False)])
        await sim.aclose()
    finally:
        await runner.cleanup()
    assert turn.text == "Hello?" and sim.context_tokens == 2048
    assert any("HTTP 404" in e.get("why", "") for e in logs)


async def test_a_server_context_too_small_for_the_reply_fails_every_turn_clearly() -> None:
    async with LoopbackServer(ReplyScript("unused"), context_length=200) as server:
        sim = _served(server.base_url)
        for _ in range(2):
            with pytest.raises(SimulatorError, match=r"server's context_tokens \(200\) must"):
                await sim.generate([_turn(0, long=False)])
        await sim.aclose()
        assert server.completion_requests == []
        assert len([r for r in server.requests if r.endpoint == "models"]) == 1


async def test_seed_false_sends_no_seed() -> None:
    async with LoopbackServer(ReplyScript("Hm?")) as server:
        for options, seeded in (({}, True), ({"seed": False}, False)):
            sim = _served(server.base_url, **options)
            await sim.generate([_turn(5, long=False)])
            await sim.aclose()
            body = server.completion_requests[-1].body
            assert ("seed" in body) is seeded
    assert server.completion_requests[0].body["seed"] == (2**40 + 5) % 2**31


# -- validation, and the header ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_wait": 0.1}, r"option\(s\) \['max_wait'\] for served:; valid: context_tokens, seed"),
        ({"context": 1024}, "valid: context_tokens, seed"),
        ({"seed": "maybe"}, "seed"),
        ({"context_tokens": "lots"}, "context_tokens"),
        ({"context_tokens": 1}, "context_tokens"),
        ({"context_tokens": 256}, r"context_tokens \(256\) must exceed the simulator's max tokens"),
    ],
)  # fmt: skip
def test_served_options_are_checked_before_anything_is_sent(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _served("http://127.0.0.1:9/v1", **options)


def test_the_seed_setting_is_recorded_in_the_config() -> None:
    served = RunConfig(models=("m",), simulator="served:chatbench")
    assert served.simulator_options == {"seed": True}
    options = {"seed": False, "context_tokens": 1024}
    off = RunConfig(models=("m",), simulator="served:chatbench", simulator_options=options)
    assert off.simulator_options == {"seed": False, "context_tokens": 1024}
    stored = json.loads(off.model_dump_json())
    assert RunConfig.model_validate(stored) == off  # a header reads back the same
    assert RunConfig(models=("m",), simulator="scripted").simulator_options == {}
