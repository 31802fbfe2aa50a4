"""A prompted chat model plays the user: the paper's unfine-tuned baseline.

The two-step instructions render as chat messages (``chatbench-chat-v1``); the call goes
through a ``TargetCaller``, so retries, timeouts and attempts are the core's as for any target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import anyio

from chatsim._exceptions import AuthenticationError, ConfigError, SimulatorError, TargetError
from chatsim.protocol import PromptFormat, clean_generated, render_chat
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.targets import TargetCaller, TargetRequest

__all__ = ["PromptedSimulator"]


class PromptedSimulator(SimulatorBackend):
    """Any chat model as the simulated user."""

    batched = False
    max_batch_size = 1_000_000

    def __init__(
        self,
        caller: TargetCaller,
        prompt_format: PromptFormat,
        *,
        spec: str,
        temperature: float = 1.0,
        max_tokens: int = 256,
        owns_caller: bool = True,
    ) -> None:
        if prompt_format.kind != "chat":
            raise ConfigError(f"prompted simulators need a chat format, got {prompt_format.name}")
        self.owns_caller = owns_caller  # False for a run pool's shared caller: the pool closes it
        self.caller = caller
        self.format = prompt_format
        self.spec = spec
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _request(self, request: UserTurnRequest) -> TargetRequest:
        messages = render_chat(self.format, request.question, request.history, request.step)
        return TargetRequest(
            messages=messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=request.seed % 2**31,
            stream=False,
        )

    async def _one(self, request: UserTurnRequest) -> UserTurn:
        try:
            reply = await self.caller.call(self._request(request))
        except AuthenticationError as exc:  # stops the run, like a target's refused key
            raise AuthenticationError(
                f"simulator {self.spec}: {exc}", status_code=exc.status_code
            ) from exc
        except TargetError as exc:
            raise SimulatorError(
                f"prompted simulator {self.spec} failed: {exc}", attempts=exc.attempts
            ) from exc
        return UserTurn(
            text=clean_generated(reply.text),
            usage=reply.usage,
            started_at=reply.started_at,
            ended_at=reply.ended_at,
            queue_time=reply.queue_time,
            attempts=reply.attempts,
        )

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        if len(requests) == 1:  # the usual case: no task group to set up
            return [await self._one(requests[0])]
        results: list[UserTurn | None] = [None] * len(requests)

        async def run(index: int, request: UserTurnRequest) -> None:
            results[index] = await self._one(request)

        try:
            async with anyio.create_task_group() as tg:
                for index, request in enumerate(requests):
                    tg.start_soon(run, index, request)
        except* (SimulatorError, AuthenticationError) as group:
            raise group.exceptions[0] from None
        return [turn for turn in results if turn is not None]

    def describe_prompt(self, request: UserTurnRequest) -> str:
        body = self.caller.adapter.describe_request(self._request(request))
        return json.dumps(body, indent=2, ensure_ascii=False)

    async def aclose(self) -> None:
        if self.owns_caller:
            await self.caller.aclose()
