"""Size-or-deadline micro-batching behind a single-item await.

Episodes call ``await batcher.request(req)`` for one user turn; a background collector turns
many such awaits into one ``backend.generate`` call (one GPU batch)::

    async with MicroBatcher(backend, max_batch_size=64, max_wait=0.01) as batcher:
        turn = await batcher.request(request)

Policy (the shape of Ray Serve's ``serve/batching.py``, with an owned lifecycle): a batch
starts with the oldest waiting request, and fills until it is full or that request has waited
``max_wait`` seconds. Then, if the previous batch is still generating, it keeps collecting
until the backend is free (or the batch is full): "collect while the previous batch runs".
One batch runs at a time, since the backend is one GPU. So under load, batches are as full as
the arrivals allow with no extra delay; when idle, a lone request waits at most ``max_wait``.
Each turn is first handed to ``backend.prepare`` (prompt building and trimming, on a worker
thread for the local simulator) as it arrives, so that CPU work overlaps the running batch
instead of delaying the next one.

Lifecycle: the collector and the running batch are tasks of a task group owned by the
``async with``. Leaving the block normally lets queued requests finish first; leaving it with
an error cancels them. The batcher is bounded (``max_pending`` turns at once): beyond it,
``request`` waits (backpressure). Deadlines use the event loop's monotonic clock; recorded
times (``queue_time``) use the run's ``Clock``.

Errors: a failed batch fails every waiter of that batch (each gets its own ``SimulatorError``
chained to the cause), unless the backend raises ``BatchItemErrors`` to fail only some.
A cancelled waiter never disturbs the others; if all of a batch's waiters are gone before it
starts, it is not generated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup

from chatsim._exceptions import SimulatorError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest

__all__ = ["BatchItemErrors", "BatcherStats", "MicroBatcher"]


class BatchItemErrors(SimulatorError):
    """Some turns of a batch failed, others did not; ``results`` holds each, in order."""

    def __init__(self, results: Sequence[UserTurn | SimulatorError]) -> None:
        self.results = list(results)
        failed = [r for r in self.results if isinstance(r, SimulatorError)]
        first = f": {failed[0]}" if failed else ""
        super().__init__(f"{len(failed)} of {len(self.results)} simulator turns failed{first}")


@dataclass(frozen=True, slots=True)
class BatcherStats:
    """What the batcher did so far (for benchmarks and run summaries)."""

    batches: int
    """Backend calls made."""
    requests: int
    """Turns generated (cancelled waiters excluded)."""
    max_batch_size: int
    mean_batch_size: float
    mean_fill: float
    """Mean batch size over ``max_batch_size`` (0..1)."""
    mean_queue_time: float
    """Mean seconds from a turn's arrival to the start of its batch: the latency batching
    adds, its prompt's preparation included."""
    max_queue_time: float
    busy_time: float
    """Seconds the backend spent generating."""
    wall_time: float
    """Seconds from the first request to the end of the last batch."""

    @property
    def busy_fraction(self) -> float:
        """``busy_time / wall_time``: how much of the time the backend (GPU) was working."""
        return self.busy_time / self.wall_time if self.wall_time > 0 else 0.0


class _Waiter:
    __slots__ = ("cancelled", "done", "enqueued", "error", "queued", "request", "result", "since")

    def __init__(self, request: UserTurnRequest, enqueued: float, since: float) -> None:
        self.request = request
        self.enqueued = enqueued  # run clock, for queue_time
        self.since = since  # event-loop monotonic clock, for deadlines
        self.done = anyio.Event()
        self.result: UserTurn | None = None
        self.error: SimulatorError | None = None
        self.cancelled = False
        self.queued = True

    def finish(self, result: UserTurn | BaseException) -> None:
        if isinstance(result, UserTurn):
            self.result = result
        else:
            message = str(result) if isinstance(result, SimulatorError) else repr(result)
            error = SimulatorError(message)
            error.__cause__ = result  # a fresh error per waiter, chained to the shared cause
            self.error = error
        self.done.set()


class MicroBatcher:
    """Turns many single-turn awaits into batched ``backend.generate`` calls (module doc)."""

    def __init__(
        self,
        backend: SimulatorBackend,
        *,
        max_batch_size: int | None = None,
        max_wait: float = 0.01,
        max_pending: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        size = max_batch_size or backend.max_batch_size
        if size < 1 or max_wait < 0:
            raise ValueError("max_batch_size must be >= 1 and max_wait >= 0")
        self.backend = backend
        self.max_batch_size = min(size, backend.max_batch_size)
        self.max_wait = max_wait
        self.max_pending = max_pending or max(1024, 4 * self.max_batch_size)
        self._clock = clock or MonotonicWallClock()
        self._tg: TaskGroup | None = None
        self._slots: anyio.Semaphore | None = None
        # A plain queue plus a wake-up event, rather than a memory stream: waiting on an event
        # can be cancelled (deadlines) without ever losing an item.
        self._queue: deque[_Waiter] = deque()
        self._live = 0  # queued waiters not cancelled
        self._wake = anyio.Event()
        self._idle = anyio.Event()
        self._closed = False
        self._sizes: list[int] = []
        self._queue_total = 0.0
        self._queue_max = 0.0
        self._busy = 0.0
        self._first: float | None = None
        self._last_end: float | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise RuntimeError("a MicroBatcher can be entered only once")
        self._slots = anyio.Semaphore(self.max_pending)
        self._wake, self._idle = anyio.Event(), anyio.Event()
        self._idle.set()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._collect)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        self._closed = True  # the collector drains what is queued, then ends
        self._notify()
        if exc is not None:
            self._tg.cancel_scope.cancel()
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            while self._queue:  # only left over after a cancellation
                self._queue.popleft().finish(SimulatorError("the simulator batcher was closed"))

    # -- the single-item await -------------------------------------------------------------

    async def request(self, request: UserTurnRequest) -> UserTurn:
        """One user turn, generated as part of a batch. Raises ``SimulatorError``."""
        if self._slots is None:
            raise RuntimeError("use the MicroBatcher inside 'async with'")
        async with self._slots:  # backpressure: at most max_pending turns in the batcher
            if self._closed:
                raise SimulatorError("the simulator batcher is closed")
            asked = self._clock.now()  # queue time counts the preparation too
            request = await self.backend.prepare(request)  # meanwhile the GPU generates
            if self._closed:  # closed while preparing: the collector may be gone
                raise SimulatorError("the simulator batcher is closed")
            waiter = _Waiter(request, asked, anyio.current_time())
            if self._first is None:
                self._first = waiter.enqueued
            self._queue.append(waiter)
            self._live += 1
            self._notify()
            try:
                await waiter.done.wait()
            except BaseException:
                self._cancel(waiter)
                raise
        if waiter.error is not None:
            raise waiter.error
        assert waiter.result is not None
        return waiter.result

    def _cancel(self, waiter: _Waiter) -> None:
        # The collector skips it; its batch-mates carry on. A running batch still finishes.
        if not waiter.cancelled and waiter.queued:
            self._live -= 1
        waiter.cancelled = True

    @property
    def stats(self) -> BatcherStats:
        """A snapshot of what the batcher did so far."""
        batches = len(self._sizes)
        requests = sum(self._sizes)
        mean = requests / batches if batches else 0.0
        wall = self._last_end - self._first if self._first and self._last_end else 0.0
        return BatcherStats(
            batches=batches,
            requests=requests,
            max_batch_size=self.max_batch_size,
            mean_batch_size=mean,
            mean_fill=mean / self.max_batch_size,
            mean_queue_time=self._queue_total / requests if requests else 0.0,
            max_queue_time=self._queue_max,
            busy_time=self._busy,
            wall_time=max(wall, 0.0),
        )

    # -- the collector ---------------------------------------------------------------------

    def _notify(self) -> None:
        self._wake.set()
        self._wake = anyio.Event()

    async def _collect(self) -> None:
        while True:
            while self._queue and self._queue[0].cancelled:
                self._queue.popleft().queued = False
            if not self._queue:
                if self._closed:
                    return
                await self._wake.wait()
                continue
            deadline = self._queue[0].since + self.max_wait
            # Size or deadline: fill until full or the oldest waiter waited max_wait.
            while self._live < self.max_batch_size and not self._closed:
                remaining = deadline - anyio.current_time()
                if remaining <= 0:
                    break
                with anyio.move_on_after(remaining):
                    await self._wake.wait()
            # Collect while the previous batch runs: the GPU is busy anyway.
            while not self._idle.is_set() and self._live < self.max_batch_size:
                await self._wake.wait()
            await self._idle.wait()
            batch = self._take()
            if batch:
                assert self._tg is not None
                self._idle = anyio.Event()
                self._tg.start_soon(self._run_batch, batch, self._idle)

    def _take(self) -> list[_Waiter]:
        batch: list[_Waiter] = []
        while self._queue and len(batch) < self.max_batch_size:
            waiter = self._queue.popleft()
            waiter.queued = False
            if not waiter.cancelled:
                self._live -= 1
                batch.append(waiter)
        return batch

    async def _run_batch(self, batch: list[_Waiter], idle: anyio.Event) -> None:
        batch = [w for w in batch if not w.cancelled]  # cancelled while waiting for the GPU
        started = self._clock.now()
        results: Sequence[UserTurn | BaseException] = []
        try:
            if batch:
                results = await self._generate(batch, started)
        finally:
            ended = self._clock.now()
            self._busy += ended - started
            self._last_end = ended
            idle.set()
            self._notify()
        for waiter, result in zip(batch, results, strict=True):
            waiter.finish(result)

    async def _generate(
        self, batch: list[_Waiter], started: float
    ) -> Sequence[UserTurn | BaseException]:
        waits = [max(0.0, started - w.enqueued) for w in batch]
        self._sizes.append(len(batch))
        self._queue_total += sum(waits)
        self._queue_max = max(self._queue_max, *waits)
        try:
            turns = await self.backend.generate([w.request for w in batch])
            if len(turns) != len(batch):
                raise SimulatorError(
                    f"simulator returned {len(turns)} turns for a batch of {len(batch)}"
                )
            results: Sequence[UserTurn | BaseException] = turns
        except BatchItemErrors as exc:
            results = exc.results
        except Exception as exc:
            results = [exc] * len(batch)
        for wait, result in zip(waits, results, strict=True):
            if isinstance(result, UserTurn):
                result.queue_time += wait
        return results
