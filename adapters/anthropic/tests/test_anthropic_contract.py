"""The checks of chatsim's conformance suite, in Anthropic's wire format.

``chatsim.testing.run_conformance`` runs its checks against the OpenAI-protocol
``LoopbackServer`` it starts itself (and reads OpenAI fields: ``x-request-id``, a system
message inside ``messages``, ``seed``, ``stop``, ``finish_reason == "stop"``), so an
Anthropic adapter cannot be pointed at it. These are its checks against
``AnthropicLoopbackServer``: streamed and whole replies, request fields, timing
(``test_anthropic_adapter``), rate limits, statuses and broken replies
(``test_anthropic_errors``), and here stall cancellation and concurrency.
"""

from __future__ import annotations

import subprocess
import sys
import time

import anyio
import pytest
from anthropic_helpers import KEY, REPLY, adapter_for, request

from chatsim.protocol import Message, Role
from chatsim.targets import TargetRequest
from chatsim.testing import Fault, FaultKind, Latency, ReplyScript
from chatsim_anthropic.testing import AnthropicLoopbackServer

pytestmark = pytest.mark.anyio


async def test_a_stalled_call_is_cancellable_and_the_adapter_stays_usable() -> None:
    async with AnthropicLoopbackServer(REPLY) as server:
        adapter = adapter_for(server)
        try:
            server.inject(Fault(FaultKind.STALL, stall=10.0))
            with anyio.move_on_after(0.05) as scope:
                await adapter.complete(request(), now=time.perf_counter)
            assert scope.cancelled_caught
            server.inject(Fault(FaultKind.STALL, stall=10.0, after_chunks=2))
            with anyio.move_on_after(0.05) as scope:
                await adapter.complete(request(), now=time.perf_counter)
            assert scope.cancelled_caught
            reply = await adapter.complete(request(), now=time.perf_counter)
        finally:
            await adapter.aclose()
    assert reply.text == REPLY


async def test_concurrent_calls_each_get_their_own_reply() -> None:
    script = ReplyScript(lambda ctx: f"echo: {ctx.last_user_message}", latency=Latency.ms(2))
    async with AnthropicLoopbackServer(script, api_key=KEY) as server:
        adapter = adapter_for(server)
        replies: list[str] = []

        async def one(i: int) -> None:
            req = TargetRequest(messages=(Message(Role.USER, f"question {i}"),))
            replies.append((await adapter.complete(req, now=time.perf_counter)).text)

        try:
            async with anyio.create_task_group() as tg:
                for i in range(16):
                    tg.start_soon(one, i)
        finally:
            await adapter.aclose()
        assert server.stats.max_in_flight > 1
    assert sorted(replies) == sorted(f"echo: question {i}" for i in range(16))


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    return set(out.stdout.split())


def test_importing_the_adapter_does_not_import_torch() -> None:
    loaded = _imported_after("import chatsim_anthropic, chatsim_anthropic.testing")
    assert "anthropic" in loaded and "torch" not in loaded and "transformers" not in loaded


def test_importing_chatsim_does_not_import_anthropic() -> None:
    loaded = _imported_after(
        "import chatsim, chatsim.targets; chatsim.targets.available_adapters()"
    )
    assert "anthropic" not in loaded and "chatsim_anthropic" not in loaded
