"""When a stage's conversations start: the open loop (a seeded arrival schedule that never
waits for the target) and the closed loop (users who start again as they finish).

The open-loop scheduler sleeps until each arrival's time and starts it (late, if the process
was busy, or if ``max_in_flight`` conversations were already running); each record keeps its
*scheduled* start, so the summary can measure latency from when the user meant to start
(coordinated omission). A closed-loop user schedules its next conversation for the moment its
last one ended. After a stage's arrivals end it waits ``drain_timeout`` for the conversations
still running, then cancels them: they leave no record and count as abandoned.

With a ``Share`` (a Ray worker's part) it takes every ``count``-th arrival of the one schedule
(open loop) or every ``count``-th user (closed loop); an open-loop conversation's number is its
arrival's index in the schedule, so together the shares plan the very conversations one
process would.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

from chatsim.config import LoadTestConfig
from chatsim.loadtest._arrivals import arrival_offsets, user_start_offsets
from chatsim.loadtest._conversations import Conversations
from chatsim.loadtest._share import Share
from chatsim.loadtest._stage import StageRun
from chatsim.runner import derive_seed

__all__ = ["Arrivals"]

Sleep = Callable[[float], Awaitable[None]]


class Arrivals:
    """Starts each stage's conversations (``run``) and numbers them: ``begin`` before a stage,
    ``end`` after it, moves the numbering on by what the stage used up."""

    def __init__(
        self,
        config: LoadTestConfig,
        conversations: Conversations,
        share: Share,
        *,
        now: Callable[[], float],
        sleep: Sleep,
    ) -> None:
        self.config = config
        self._conversations = conversations
        self._share = share
        self._now = now
        self._sleep = sleep
        self._limit = share.part(config.conversations)
        self._base = 0  # the current stage's first conversation number
        self._started = 0  # conversations this engine started in the current stage
        self._slots = anyio.Semaphore(config.max_in_flight)
        self._users_left = 0

    async def sleep_until(self, when: float) -> None:
        delay = when - self._now()
        if delay > 0:
            await self._sleep(delay)

    def begin(self, base: int | None) -> None:
        """A stage begins; its numbers start at ``base`` (None: after the previous stage's)."""
        if base is not None:
            self._base = base
        self._started = 0

    def end(self, stage: StageRun) -> None:
        if self.config.mode == "closed":
            stage.numbers = self._share.count * self._started
        self._base += stage.numbers

    async def run(self, stage: StageRun) -> None:
        if self.config.mode == "open":
            await self._open_loop(stage)
        else:
            await self._closed_loop(stage)

    def _drain(self, tg: TaskGroup) -> None:
        if self.config.drain_timeout is not None:
            tg.cancel_scope.deadline = anyio.current_time() + self.config.drain_timeout

    def _count_reached(self, stage: StageRun) -> bool:
        return self._limit is not None and stage.arrivals >= self._limit

    # --- open loop

    async def _open_loop(self, stage: StageRun) -> None:
        config = self.config
        duration = config.duration if config.duration is not None else math.inf
        offsets = arrival_offsets(
            stage.load,
            process=config.arrival,
            ramp_up=config.ramp_up,
            seed=derive_seed(config.seed, "arrivals", stage.index),
        )
        start, limit, share = stage.started_at, config.conversations, self._share
        async with anyio.create_task_group() as tg:
            for position, offset in enumerate(offsets):
                stage.numbers = position  # the schedule's arrivals before this one
                if offset >= duration or (limit is not None and position >= limit):
                    break
                if not share.takes(position):
                    continue  # another worker's arrival
                scheduled = start + offset
                await self.sleep_until(scheduled)
                try:  # the cap makes arrivals late, never lost: their lateness is recorded
                    self._slots.acquire_nowait()
                except anyio.WouldBlock:
                    await self._slots.acquire()
                self._conversations.arrive(stage, scheduled)
                tg.start_soon(self._in_slot, stage, scheduled, self._base + position)
            if limit is None or stage.numbers < limit:
                await self.sleep_until(start + duration)
            stage.window_end = self._now()
            self._drain(tg)

    async def _in_slot(self, stage: StageRun, scheduled: float, number: int) -> None:
        try:
            await self._conversations.run(stage, scheduled, None, number)
        finally:
            self._slots.release()

    # --- closed loop

    async def _closed_loop(self, stage: StageRun) -> None:
        config = self.config
        start = stage.started_at
        end = start + config.duration if config.duration is not None else None
        async with anyio.create_task_group() as tg:
            timer = anyio.CancelScope()
            offsets = user_start_offsets(int(stage.load), config.ramp_up)
            mine = [(user, o) for user, o in enumerate(offsets) if self._share.takes(user)]
            self._users_left = len(mine)
            if not mine:  # fewer users than workers: this one has none
                stage.window_end = start
                return
            for user, offset in mine:
                tg.start_soon(self._user, stage, user, start + offset, end, timer)
            if end is not None:
                with timer:  # cancelled early when every user has stopped
                    await self.sleep_until(end)
                if stage.window_end is None:
                    stage.window_end = self._now()
                self._drain(tg)

    async def _user(
        self,
        stage: StageRun,
        user: int,
        scheduled: float,
        end: float | None,
        timer: anyio.CancelScope,
    ) -> None:
        try:
            while (end is None or scheduled < end) and not self._count_reached(stage):
                await self.sleep_until(scheduled)
                if self._count_reached(stage):
                    break
                self._conversations.arrive(stage, scheduled)
                if self._count_reached(stage):
                    stage.window_end = self._now()
                share = self._share
                number = self._base + self._started * share.count + share.index
                self._started += 1
                await self._conversations.run(stage, scheduled, user, number)
                scheduled = self._now()  # the next one starts as this one ends
        finally:
            self._users_left -= 1
            if self._users_left == 0:
                timer.cancel()
