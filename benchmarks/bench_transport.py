"""Client CPU per streamed chat completion: bare SDK, raw aiohttp, and chatsim's adapter.

    python benchmarks/bench_transport.py [--concurrency 64 512] [--calls 2048] [--tokens 32]

The loopback server runs in its own process (``python -m chatsim.testing.server``), pinned to
core 1; this client is pinned to core 0. Each variant makes ``--calls`` streamed calls of a
3-turn conversation (system + 3 user + 2 assistant messages) through ``concurrency`` workers
after a warm-up round, and reports the client's CPU time per call (``time.process_time``),
throughput and latency. Variants:

- ``openai SDK``: a bare ``AsyncOpenAI().chat.completions.create(stream=True)`` loop;
- ``raw aiohttp``: a minimal hand-written aiohttp + ``json`` SSE loop (the floor);
- ``adapter sdk`` / ``adapter fast``: ``chatsim_openai``'s adapter on each transport;
- ``caller+fast``: the fast adapter inside the core's ``TargetCaller`` (timing, attempt
  records), i.e. what a run pays per target call.

The adapter's default transport (``chatsim_openai.DEFAULT_TRANSPORT``) is chosen from this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import openai
from _loopback import loopback_server, pin_to_core

from chatsim.protocol._types import Message, Role
from chatsim.targets import TargetCaller, TargetRequest, TargetSettings
from chatsim_openai import vllm_adapter

MODEL = "bench"
CONVERSATION = (
    Message(Role.SYSTEM, "You are a helpful AI assistant."),
    Message(Role.USER, "What is 17 times 23? A. 391 B. 401 C. 381 D. 371"),
    Message(Role.ASSISTANT, "17 times 23 is 391, so the answer is A."),
    Message(Role.USER, "Can you show me how you got that?"),
    Message(Role.ASSISTANT, "17 x 20 = 340 and 17 x 3 = 51; 340 + 51 = 391."),
    Message(Role.USER, "Thanks. Is there a quicker way to check it?"),
)
MESSAGES = [{"role": m.role.value, "content": m.content} for m in CONVERSATION]

Call = Callable[[], Awaitable[str]]


@dataclass
class Result:
    variant: str
    concurrency: int
    calls: int
    cpu_ms: float
    calls_per_s: float
    p50_ms: float
    p99_ms: float


async def _drive(
    call: Call, calls: int, concurrency: int, expected: str
) -> tuple[float, float, list[float]]:
    per_worker = max(1, calls // concurrency)
    latencies: list[float] = []

    async def worker() -> None:
        for _ in range(per_worker):
            start = time.perf_counter()
            text = await call()
            latencies.append(time.perf_counter() - start)
            if text != expected:
                raise RuntimeError(f"wrong reply {text[:40]!r}")

    # Warm-up: open the connections, fill caches.
    await asyncio.gather(*(call() for _ in range(concurrency)))
    latencies.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu0, time.perf_counter() - wall0, latencies


async def _sdk_loop(base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def call() -> str:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            temperature=0.7,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        return "".join(parts)

    return call, client.close


async def _aiohttp_loop(base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = f"{base_url}/chat/completions"
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}

    async def call() -> str:
        body = {
            "model": MODEL,
            "messages": MESSAGES,
            "temperature": 0.7,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        parts: list[str] = []
        async with session.post(url, data=json.dumps(body), headers=headers) as resp:
            async for line in resp.content:
                if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                    chunk = json.loads(line[6:])
                    if chunk["choices"]:
                        parts.append(chunk["choices"][0]["delta"].get("content") or "")
        return "".join(parts)

    return call, session.close


async def _adapter_loop(
    base_url: str, transport: str, caller: bool
) -> tuple[Call, Callable[[], Awaitable[None]]]:
    adapter = vllm_adapter(
        MODEL, TargetSettings(base_url=base_url, options={"transport": transport})
    )
    request = TargetRequest(messages=CONVERSATION, temperature=0.7)
    if caller:
        target = TargetCaller(adapter)

        async def via_caller() -> str:
            return (await target.call(request)).text

        return via_caller, target.aclose

    async def direct() -> str:
        return (await adapter.complete(request, now=time.perf_counter)).text

    return direct, adapter.aclose


VARIANTS: dict[str, Callable[[str], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]] = {
    "openai SDK": _sdk_loop,
    "raw aiohttp": _aiohttp_loop,
    "adapter sdk": lambda url: _adapter_loop(url, "sdk", caller=False),
    "adapter fast": lambda url: _adapter_loop(url, "fast", caller=False),
    "caller+fast": lambda url: _adapter_loop(url, "fast", caller=True),
}


async def _measure(
    variant: str, base_url: str, calls: int, concurrency: int, expected: str
) -> Result:
    call, close = await VARIANTS[variant](base_url)
    try:
        cpu, wall, latencies = await _drive(call, calls, concurrency, expected)
    finally:
        await close()
    done = len(latencies)
    cuts = statistics.quantiles(latencies, n=100)
    return Result(
        variant, concurrency, done, 1000 * cpu / done, done / wall, 1000 * cuts[49], 1000 * cuts[98]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--calls", type=int, default=2048)
    parser.add_argument(
        "--tokens", type=int, default=32, help="words (= SSE content events) per reply"
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args()
    pin_to_core(0)
    expected = " ".join(f"tok{i}" for i in range(args.tokens))
    results: list[Result] = []
    with loopback_server("--tokens", str(args.tokens), core=1) as base_url:
        for concurrency in args.concurrency:
            for variant in args.variants:
                calls = max(args.calls, 2 * concurrency)
                result = asyncio.run(_measure(variant, base_url, calls, concurrency, expected))
                results.append(result)
                if args.json:
                    print(json.dumps(result.__dict__), flush=True)
    if not args.json:
        _print_table(results, args.tokens)


def _print_table(results: list[Result], tokens: int) -> None:
    print(f"streamed chat completions, {tokens} content events + role/finish/usage per reply")
    head = f"{'variant':<14}{'conc':>6}{'calls':>7}{'cpu ms/call':>13}"
    print(f"{head}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for r in results:
        print(
            f"{r.variant:<14}{r.concurrency:>6}{r.calls:>7}{r.cpu_ms:>13.3f}{r.calls_per_s:>10.0f}"
            f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
        )


if __name__ == "__main__":
    main()
