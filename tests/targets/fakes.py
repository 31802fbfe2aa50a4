"""Test doubles for the target caller: a scripted adapter (the clock is ``FakeClock``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel

from chatsim.protocol._types import Message, Role
from chatsim.recording._records import Usage
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest
from chatsim.testing import FakeClock

START = FakeClock().now()  # where a default FakeClock starts


Step = BaseException | AdapterReply | Callable[[TargetRequest], Awaitable[AdapterReply]]


def reply(text: str = "ok", **kw: Any) -> AdapterReply:
    return AdapterReply(text=text, **kw)


class ScriptedAdapter(TargetAdapter):
    """Plays a script: each attempt takes the next step (raise it, return it, or await it).

    ``duration`` fake seconds pass during each attempt; after the script, it replies "ok".
    """

    name = "fake"

    def __init__(
        self,
        script: list[Step] | None = None,
        *,
        time: FakeClock | None = None,
        duration: float = 0.0,
    ) -> None:
        self.script = list(script or [])
        self.time = time
        self.duration = duration
        self.requests: list[TargetRequest] = []
        self.closed = False

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        self.requests.append(request)
        step: Step = self.script.pop(0) if self.script else reply()
        if self.time is not None and self.duration:
            self.time.advance(self.duration)
        await anyio.lowlevel.checkpoint()
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, AdapterReply):
            return step
        return await step(request)

    async def aclose(self) -> None:
        self.closed = True


def request(text: str = "hello", **kw: Any) -> TargetRequest:
    return TargetRequest(messages=(Message(Role.USER, text),), **kw)


def usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion)
