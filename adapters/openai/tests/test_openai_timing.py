"""first_token_at as the adapter measures it, against the server's own send timestamps."""

from __future__ import annotations

import time

import anyio
import pytest

from chatsim.protocol._types import Message, Role
from chatsim.targets import AdapterReply, TargetRequest, TargetSettings
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_script import Latency, ReplyScript
from chatsim_openai import vllm_adapter

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("transport", ["fast", "sdk"])
async def test_first_token_follows_the_servers_send_time(transport: str) -> None:
    script = ReplyScript(lambda ctx: f"reply to {ctx.last_user_message}", latency=Latency.ms(5, 1))
    async with LoopbackServer(script, clock=time.perf_counter) as server:
        settings = TargetSettings(base_url=server.base_url, options={"transport": transport})
        adapter = vllm_adapter("m", settings)
        replies: dict[str, AdapterReply] = {}

        async def one(i: int) -> None:
            request = TargetRequest(messages=(Message(Role.USER, f"q{i}"),))
            replies[f"q{i}"] = await adapter.complete(request, now=time.perf_counter)

        try:
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(one, i)
        finally:
            await adapter.aclose()
        records = {r.body["messages"][0]["content"]: r for r in server.completion_requests}
    for key, reply in replies.items():
        record = records[key]
        assert record.first_token_sent_at is not None and reply.first_token_at is not None
        assert record.sent_ttft is not None and record.sent_ttft >= 0.005
        lag = reply.first_token_at - record.first_token_sent_at
        assert 0 <= lag < 0.25, f"client saw the first token {lag * 1000:.1f} ms after it was sent"
