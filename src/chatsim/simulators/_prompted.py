"""A prompted chat model plays the user: the paper's unfine-tuned baseline.

The two-step instructions render as chat messages (``chatbench-chat-v1``); the call goes
through a ``TargetCaller``, so retries, timeouts and attempts are the core's as for any target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import anyio

from chatsim._exceptions import AuthenticationError, ConfigError, SimulatorError, TargetError
from chatsim.protocol import Message, PromptFormat, Role, clean_generated, render_chat
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.targets import TargetCaller, TargetRequest

__all__ = ["PromptedSimulator", "opening_with_user"]


def opening_with_user(messages: tuple[Message, ...], cue: str) -> tuple[Message, ...]:
    """``messages`` with the format's ``chat_start`` cue before the simulator's own first
    message, where the conversation would otherwise open with an ``assistant`` message.

    After the first turn the swapped roles open with the simulator's own message, which is an
    ``assistant`` message; the Anthropic and Gemini APIs refuse a conversation that does not
    open with the user (400 "first message must use the user role" / "alternate between user
    and model"), as do chat templates that alternate strictly from a user turn. The cue is
    what the simulator was shown before it wrote that message, so every provider gets the
    same, chronologically true conversation. A format without a cue is sent as rendered.
    """
    first = next((i for i, m in enumerate(messages) if m.role is not Role.SYSTEM), None)
    if first is None or messages[first].role is not Role.ASSISTANT or not cue:
        return messages
    return (*messages[:first], Message(Role.USER, cue), *messages[first:])


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
            messages=opening_with_user(messages, self.format.chat_start),
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
