"""Per-call overhead of TargetCaller: an instant fake adapter through the caller vs directly.

    python benchmarks/bench_caller.py [--calls 20000] [--concurrency 1 64] [--repeats 3]

Prints calls/s and microseconds per call for the bare adapter, the adapter inside a tenacity
loop (for reference), and the caller (success path; also with the rate buckets on), best of
``--repeats``. CPU-bound on one event loop, so each difference is that layer's own cost.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import anyio
from tenacity import AsyncRetrying, stop_after_attempt

from chatsim.protocol._types import Message, Role
from chatsim.recording import ReplyTiming
from chatsim.targets._caller import CallPolicy, TargetCaller
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetRequest


class InstantAdapter(TargetAdapter):
    name = "instant"

    async def complete(self, request: TargetRequest, *, now: Callable[[], float]) -> AdapterReply:
        return AdapterReply(
            text="ok", timing=ReplyTiming(first_token_at=now()), finish_reason="stop"
        )


async def _drive(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> float:
    per_task = calls // concurrency

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return (per_task * concurrency) / (time.perf_counter() - start)


async def main(calls: int, concurrencies: list[int], repeats: int) -> None:
    adapter = InstantAdapter()
    request = TargetRequest(messages=(Message(Role.USER, "What is 2 + 2?"),))
    clock_now = time.perf_counter

    async def direct() -> object:
        return await adapter.complete(request, now=clock_now)

    async def through_tenacity() -> object:
        # What a tenacity loop around every call would cost (the caller skips it on success).
        async for attempt in AsyncRetrying(stop=stop_after_attempt(5), reraise=True):
            with attempt:
                return await adapter.complete(request, now=clock_now)
        raise AssertionError  # pragma: no cover

    plain = TargetCaller(adapter, CallPolicy(max_concurrency=1024))
    limited = TargetCaller(
        adapter,
        CallPolicy(max_concurrency=1024, requests_per_minute=1e12, tokens_per_minute=1e15),
    )
    variants: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("adapter directly", direct),
        ("adapter in a tenacity loop", through_tenacity),
        ("TargetCaller", lambda: plain.call(request)),
        ("TargetCaller + rpm/tpm buckets", lambda: limited.call(request)),
    ]
    print(f"{calls} calls per run, best of {repeats}")
    for concurrency in concurrencies:
        base = None
        for label, fn in variants:
            best = max([await _drive(fn, calls, concurrency) for _ in range(repeats)])
            micros = 1e6 / best
            extra = "" if base is None else f"  (+{micros - base:.1f} us/call)"
            base = micros if base is None else base
            print(
                f"concurrency {concurrency:4d}  {label:32s} {best:>10,.0f} calls/s"
                f"  {micros:7.1f} us/call{extra}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.concurrency, args.repeats)
