"""An in-process target for tests: scripted replies and failures, no HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio

from chatsim._exceptions import TargetError
from chatsim.recording import ReplyTiming, Usage
from chatsim.targets import AdapterReply, TargetAdapter, TargetRequest

__all__ = ["FakeTarget", "Reply"]

Reply = str | TargetError | Callable[[TargetRequest], str]
"""A scripted step: a text, an error to raise for that attempt, or a function of the request."""


class FakeTarget(TargetAdapter):
    """Answers from a script. ``replies`` are consumed one per attempt; when exhausted, ``default``.

    ``requests`` keeps every request seen, for assertions.
    """

    name = "fake"

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        default: Reply = "I think the answer is B.",
        delay: float = 0.0,
    ) -> None:
        self._script = list(replies)
        self.default = default
        self.delay = delay
        self.requests: list[TargetRequest] = []
        self.closed = False

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        self.requests.append(request)
        step = self._script.pop(0) if self._script else self.default
        if self.delay:
            await anyio.sleep(self.delay)
        if isinstance(step, TargetError):
            raise step
        text = step(request) if callable(step) else step
        first = now() if request.stream else None
        prompt_tokens = sum(len(m.content.split()) for m in request.messages)
        return AdapterReply(
            text=text,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(text.split())),
            timing=ReplyTiming(first_token_at=first),
            finish_reason="stop",
            request_id=f"fake-{len(self.requests)}",
        )

    def describe_request(self, request: TargetRequest) -> dict[str, Any]:
        return {"url": "fake://target", **super().describe_request(request)}

    async def aclose(self) -> None:
        self.closed = True
