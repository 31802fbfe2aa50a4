"""The episode workload shared by the CPU and GPU simulator benchmarks.

N episodes run at once; each asks the simulator for ``turns`` user turns, and between turns
waits for a fake target (``anyio.sleep``: the event loop stays free, as with a real HTTP
target) that answers in ``latency`` seconds on average, uniformly between 0.5x and 1.5x
(seeded), so that episodes drift apart as real ones do instead of arriving in lockstep.
Every episode asks for exactly ``turns`` turns whatever the model writes, so schedulers are
compared on the same work. ``reply_repeat`` (default 1) repeats the target's ~50-token reply,
to make later prompts long enough to be trimmed.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from typing import Any

import anyio

from chatsim.protocol import Message, Role, SimulatorStep
from chatsim.simulators._batcher import MicroBatcher
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest

__all__ = ["Report", "first_turn_requests", "run_episodes"]

REPLY = (
    "Let's work through it step by step. First, identify what the question asks, then check "
    "each option against it. Option B satisfies every condition, while A and C fail the "
    "second condition and D fails the first. So the answer is B."
)


def _questions(count: int) -> list[Any]:
    from chatsim.questions import load_questions

    pool = load_questions("chatbench", limit=min(count, 200), seed=0)
    return [pool[i % len(pool)] for i in range(count)]


def first_turn_requests(count: int, seed: int = 0) -> list[UserTurnRequest]:
    """``count`` step-1 requests on bundled ChatBench questions."""
    return [
        UserTurnRequest(f"e{i}", q, (), SimulatorStep.FIRST, seed + i)
        for i, q in enumerate(_questions(count))
    ]


@dataclass(frozen=True, slots=True)
class Report:
    label: str
    wall: float
    turns: int
    mean_batch: float | None
    fill: float | None
    mean_queue: float
    busy: float | None

    @staticmethod
    def header() -> str:
        return (
            f"{'scheduler':<36} {'wall s':>7} {'turns/s':>8} {'batch':>6} {'fill':>5} "
            f"{'added ms':>9} {'busy':>5}"
        )

    def row(self) -> str:
        def opt(value: float | None, fmt: str) -> str:
            return format(value, fmt) if value is not None else "n/a"

        return (
            f"{self.label:<36} {self.wall:>7.2f} {self.turns / self.wall:>8.1f} "
            f"{opt(self.mean_batch, '>6.1f')} {opt(self.fill, '>5.2f')} "
            f"{self.mean_queue * 1000:>9.1f} {opt(self.busy, '>5.0%')}"
        )


class _Direct:
    def __init__(self, backend: SimulatorBackend) -> None:
        self.backend = backend

    async def request(self, request: UserTurnRequest) -> UserTurn:
        (turn,) = await self.backend.generate([request])
        return turn


async def _episode(
    source: Any, request: UserTurnRequest, args: argparse.Namespace, queue: list[float]
) -> None:
    history: tuple[Message, ...] = ()
    rng = random.Random(request.seed)
    # Longer replies make later prompts exceed the context, so every such turn is trimmed.
    reply = " ".join([REPLY] * getattr(args, "reply_repeat", 1))
    for index in range(args.turns):
        step = SimulatorStep.FIRST if index == 0 else SimulatorStep.NEXT
        turn = await source.request(
            UserTurnRequest(
                request.episode_id, request.question, history, step, request.seed + index
            )
        )
        queue.append(turn.queue_time)
        history += (Message(Role.USER, turn.text or "Can you help?"),)
        await anyio.sleep(args.latency * rng.uniform(0.5, 1.5))  # the target answering
        history += (Message(Role.ASSISTANT, reply),)


async def run_episodes(
    backend: SimulatorBackend, args: argparse.Namespace, label: str, max_wait: float | None
) -> Report:
    """Run the workload; ``max_wait`` None means no batcher (one turn per call)."""
    requests = first_turn_requests(args.episodes)
    queue: list[float] = []
    busy_before = getattr(backend, "busy_seconds", None)
    started = time.perf_counter()
    if max_wait is None:
        source: Any = _Direct(backend)
        async with anyio.create_task_group() as tg:
            for request in requests:
                tg.start_soon(_episode, source, request, args, queue)
        stats = None
    else:
        async with MicroBatcher(backend, max_batch_size=args.batch, max_wait=max_wait) as source:
            async with anyio.create_task_group() as tg:
                for request in requests:
                    tg.start_soon(_episode, source, request, args, queue)
            stats = source.stats
    wall = time.perf_counter() - started
    busy = None
    if stats is not None:
        busy = stats.busy_time / wall
    elif busy_before is not None:
        busy = (backend.busy_seconds - busy_before) / wall  # type: ignore[attr-defined]
    return Report(
        label=label,
        wall=wall,
        turns=len(queue),
        mean_batch=stats.mean_batch_size if stats else None,
        fill=stats.mean_fill if stats else None,
        mean_queue=sum(queue) / len(queue),
        busy=busy,
    )
