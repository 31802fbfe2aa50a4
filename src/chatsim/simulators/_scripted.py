"""A deterministic simulated user, for tests and CPU benchmarks.

It needs no model: given the same request (and seed) it always writes the same turn. The
default policy behaves like a plausible user: it asks the question (copied or reworded), asks a
follow-up or two, then answers with the letter the assistant stated, or, when the assistant
stated none, with a seeded guess. Tests pass their own ``policy`` to script any conversation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import anyio

from chatsim.protocol import Role, SimulatorStep, parse_answer
from chatsim.questions import LETTERS
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest

__all__ = ["ScriptedPolicy", "ScriptedSimulator", "default_policy"]

ScriptedPolicy = Callable[[UserTurnRequest], str]

_OPENERS = (
    "Can you help me with this question?\n\n{question}",
    "I'm stuck on this one, what's the answer?\n\n{question}",
    "{stem}",
    "Quick question: {stem} The options are {options}.",
)
_FOLLOW_UPS = (
    "Can you explain why?",
    "Are you sure? Please double-check.",
    "Which option is it, then?",
)


def default_policy(request: UserTurnRequest) -> str:
    """The built-in scripted user (see the module docstring)."""
    rng = random.Random(request.seed)
    question = request.question
    if request.step is SimulatorStep.FIRST:
        pairs = zip(LETTERS, question.options, strict=True)
        options = "; ".join(f"{letter}) {option}" for letter, option in pairs)
        return rng.choice(_OPENERS).format(
            question=question.render(), stem=question.stem, options=options
        )
    replies = [m.content for m in request.history if m.role is Role.ASSISTANT]
    stated = parse_answer(replies[-1]).letter if replies else None
    wants_more = len(replies) < 1 + request.seed % 3 and request.step is SimulatorStep.NEXT
    if wants_more and (stated is None or rng.random() < 0.3):
        return rng.choice(_FOLLOW_UPS)
    return f"Answer: {stated or rng.choice(LETTERS)}"


class ScriptedSimulator(SimulatorBackend):
    """Runs ``policy`` for every request; optionally waits ``delay`` seconds per batch."""

    batched = False
    max_batch_size = 1_000_000

    def __init__(
        self, policy: ScriptedPolicy | None = None, *, delay: float = 0.0, spec: str = "scripted"
    ) -> None:
        self.policy = policy or default_policy
        self.delay = delay
        self.spec = spec

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        if self.delay:
            await anyio.sleep(self.delay)
        return [UserTurn(text=self.policy(request)) for request in requests]

    def describe_prompt(self, request: UserTurnRequest) -> str:
        return f"(scripted simulator: no prompt; it would write) {self.policy(request)}"
