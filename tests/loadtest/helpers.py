"""Test doubles for the load tests: an in-flight-counting target, scripts (the clock is
``chatsim.testing.FakeClock``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from chatsim.loadtest import LiveStats, LoadTestConfig, ObservedCaller
from chatsim.protocol import Role, SimulatorStep
from chatsim.questions import Question
from chatsim.recording import EpisodeRecord, ReplyTiming
from chatsim.simulators import UserTurnRequest
from chatsim.targets import AdapterReply, CallPolicy, TargetAdapter, TargetRequest
from chatsim.testing import FakeClock

QUESTIONS = [
    Question(
        id=f"q{i}",
        subject="college_mathematics",
        stem=f"What is {i} + {i}?",
        options=("1", str(2 * i), "3", "5"),
        gold="B",
    )
    for i in range(1, 6)
]


class CountingTarget(TargetAdapter):
    """Replies "The answer is B." after ``delay`` real seconds; tracks calls in flight."""

    name = "counting"

    def __init__(self, delay: float = 0.0, time: FakeClock | None = None) -> None:
        self.delay = delay
        self.time = time
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls = 0

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.time is not None:
                await self.time.sleep(self.delay)
            elif self.delay:
                await anyio.sleep(self.delay)
            else:
                await anyio.lowlevel.checkpoint()
            first = now()
            timing = ReplyTiming(first_token_at=first)
            return AdapterReply(text="The answer is B.", timing=timing, finish_reason="stop")
        finally:
            self.in_flight -= 1


def answer_after(exchanges: int) -> Callable[[UserTurnRequest], str]:
    """A scripted user that sends ``exchanges`` messages, then answers B."""

    def policy(request: UserTurnRequest) -> str:
        if request.step is SimulatorStep.FIRST:
            return request.question.render()
        replies = sum(1 for m in request.history if m.role is Role.ASSISTANT)
        return "Answer: B" if replies >= exchanges else "Are you sure?"

    return policy


def config(**values: Any) -> LoadTestConfig:
    return LoadTestConfig.build(model="fake:m", **values)


def caller(
    target: TargetAdapter, cfg: LoadTestConfig, clock: Any, stats: LiveStats
) -> ObservedCaller:
    policy = CallPolicy().with_overrides(cfg.call_policy())
    return ObservedCaller(target, policy, clock=clock, stats=stats)


def load_extra(record: EpisodeRecord) -> dict[str, Any]:
    extra: dict[str, Any] = record.extra["load"]
    return extra
