"""The load tester's own cost and scale: client CPU per call, and 5,000 concurrent conversations.

    python benchmarks/bench_scale.py cost   [--concurrency 64 512] [--calls 3072]
    python benchmarks/bench_scale.py scale  [--users 5000] [--reply-s 20] [--duration 40]

The loopback server (``python -m chatsim.testing.server``) runs in its own process pinned to
core 1; this client is pinned to core 0. Loopback only; every scenario is bounded in time.

``cost``: client CPU (``time.process_time``) per streamed target call against a server that
replies at once (32 content events per reply), 3-turn conversations (the scripted user asks
twice more, then answers), at each concurrency, side by side in one run:

- ``openai SDK``: a minimal loop on the bare ``openai`` SDK (``stream=True``);
- ``raw aiohttp``: a minimal hand-written aiohttp + ``json`` SSE loop (the floor);
- ``chatsim loadtest``: the whole load-test path (closed loop of N users, scripted simulator,
  episode loop, call policy with timing and attempt records, live counters, lag monitor,
  every conversation recorded to ``episodes.jsonl``), i.e. ``chatsim loadtest`` without the
  live view. A first stage at the same concurrency warms the connections up; the figure is
  the second stage's ``client_cpu_per_call_ms`` from ``load_summary.json``.

``scale``: ``--users`` closed-loop users (ramped up over ``--ramp-up`` seconds) against a server
whose replies take ``--reply-s`` seconds; reports the concurrency achieved on the plateau
(client-side calls in flight, and the server's own peak count), event-loop lag, and memory
per in-flight conversation (resident memory growth over the peak in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import openai

from chatsim.loadtest import LoadTestResult, loadtest
from chatsim.protocol import Role, SimulatorStep
from chatsim.simulators import UserTurnRequest
from chatsim.testing import ScriptedSimulator

MODEL = "bench"
SYSTEM = {"role": "system", "content": "You are a helpful AI assistant."}
QUESTION = "What is 17 times 23?\nA. 391\nB. 401\nC. 381\nD. 371"
FOLLOW_UPS = ("Can you show me how you got that?", "Thanks. Is there a quicker way to check it?")


def pin_to_core(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


@contextmanager
def loopback_server(*args: str, core: int = 1) -> Iterator[tuple[str, dict[str, Any]]]:
    """The server in its own process on ``core``: yields (base URL, stats filled at exit)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatsim.testing.server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: pin_to_core(core),
    )
    stats: dict[str, Any] = {}
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"server did not start: {url!r}")
        yield url, stats
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        lines = err.strip().splitlines()
        if lines:
            try:
                stats.update(json.loads(lines[-1]))
            except ValueError:
                stats["stderr"] = lines[-1]


def three_exchanges(request: UserTurnRequest) -> str:
    """The scripted user of every variant: question, two follow-ups, then the answer."""
    if request.step is SimulatorStep.FIRST:
        return QUESTION
    replies = sum(1 for m in request.history if m.role is Role.ASSISTANT)
    return FOLLOW_UPS[replies - 1] if replies <= len(FOLLOW_UPS) else "Answer: A"


# --- cost: baselines ---------------------------------------------------------------------

Call = Callable[[list[dict[str, str]]], Awaitable[str]]


@dataclass
class CostResult:
    variant: str
    concurrency: int
    calls: int
    cpu_ms: float
    calls_per_s: float
    p50_ms: float | None = None
    p99_ms: float | None = None


async def _conversations(call: Call, concurrency: int, per_worker: int) -> list[float]:
    latencies: list[float] = []

    async def conversation() -> None:
        messages = [SYSTEM, {"role": "user", "content": QUESTION}]
        for follow_up in (*FOLLOW_UPS, None):
            start = time.perf_counter()
            reply = await call(messages)
            latencies.append(time.perf_counter() - start)
            if follow_up is not None:
                messages += [
                    {"role": "assistant", "content": reply},
                    {"role": "user", "content": follow_up},
                ]

    async def worker() -> None:
        for _ in range(per_worker):
            await conversation()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _baseline(name: str, url: str, concurrency: int, calls: int) -> CostResult:
    if name == "openai SDK":
        client = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)

        async def call(messages: list[dict[str, str]]) -> str:
            stream = await client.chat.completions.create(
                model=MODEL, messages=messages, temperature=0.7, stream=True,  # type: ignore[arg-type]
                stream_options={"include_usage": True},
            )  # fmt: skip
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        close: Callable[[], Awaitable[None]] = client.close
    else:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}

        async def call(messages: list[dict[str, str]]) -> str:
            body = {"model": MODEL, "messages": messages, "temperature": 0.7, "stream": True,
                    "stream_options": {"include_usage": True}}  # fmt: skip
            parts: list[str] = []
            async with session.post(f"{url}/chat/completions", data=json.dumps(body),
                                    headers=headers) as resp:  # fmt: skip
                async for line in resp.content:
                    if line.startswith(b"data: {"):
                        chunk = json.loads(line[6:])
                        if chunk["choices"]:
                            parts.append(chunk["choices"][0]["delta"].get("content") or "")
            return "".join(parts)

        close = session.close
    try:
        await _conversations(call, concurrency, 1)  # warm-up: open the connections
        per_worker = max(1, round(calls / 3 / concurrency))
        cpu, wall = time.process_time(), time.perf_counter()
        latencies = await _conversations(call, concurrency, per_worker)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await close()
    cuts = statistics.quantiles(latencies, n=100)
    n = len(latencies)
    return CostResult(
        name, concurrency, n, 1000 * cpu / n, n / wall, 1000 * cuts[49], 1000 * cuts[98]
    )


# --- cost: chatsim -----------------------------------------------------------------------


async def _chatsim_cost(url: str, concurrency: int, calls: int, out: Path) -> CostResult:
    conversations = max(concurrency, round(calls / 3))
    result: LoadTestResult = await loadtest(
        f"vllm:{MODEL}", base_url=url, simulator=ScriptedSimulator(three_exchanges),
        mode="closed", sweep=[concurrency, concurrency], conversations=conversations,
        drain_timeout=None, out_dir=out, slo_error_rate=None,
    )  # fmt: skip
    stage = result.stages[1]  # the first stage warmed the connections up
    if stage.errors or stage.call_errors:
        raise RuntimeError(f"chatsim saw errors: {stage.errors} conversations")
    e2e = stage.e2e_sent
    return CostResult(
        "chatsim loadtest", concurrency, stage.calls, stage.client_cpu_per_call_ms or 0.0,
        stage.call_rate, None if e2e.p50 is None else 1000 * e2e.p50,
        None if e2e.p99 is None else 1000 * e2e.p99,
    )  # fmt: skip


def cost(args: argparse.Namespace) -> None:
    results: list[CostResult] = []
    with tempfile.TemporaryDirectory() as tmp, loopback_server("--tokens", "32") as (url, _):
        for concurrency in args.concurrency:
            for variant in ("openai SDK", "raw aiohttp", "chatsim loadtest"):
                if variant == "chatsim loadtest":
                    result = anyio.run(_chatsim_cost, url, concurrency, args.calls, Path(tmp))
                else:
                    calls = args.baseline_calls or args.calls
                    result = asyncio.run(_baseline(variant, url, concurrency, calls))
                results.append(result)
                print(json.dumps(result.__dict__), file=sys.stderr, flush=True)
    print("client CPU per streamed call (3-turn conversations, 32 content events per reply,")
    print("instant loopback server on core 1, client on core 0)")
    print(f"{'variant':<18}{'conc':>6}{'calls':>7}{'cpu ms/call':>13}{'calls/s':>9}"
          f"{'p50 ms':>8}{'p99 ms':>8}")  # fmt: skip
    for r in results:
        p50 = "-" if r.p50_ms is None else f"{r.p50_ms:.1f}"
        p99 = "-" if r.p99_ms is None else f"{r.p99_ms:.1f}"
        print(f"{r.variant:<18}{r.concurrency:>6}{r.calls:>7}{r.cpu_ms:>13.3f}"
              f"{r.calls_per_s:>9.0f}{p50:>8}{p99:>8}")  # fmt: skip


# --- scale ---------------------------------------------------------------------------------


class GcPauses:
    """Times every garbage collection of this process (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))

    def report(self) -> str:
        gc.callbacks.remove(self._callback)
        full = [p for g, p in self.pauses if g == 2]
        worst = max((p for _, p in self.pauses), default=0.0)
        return (
            f"{len(self.pauses)} collections, {len(full)} full; longest {1000 * worst:.0f} ms"
            f" (full ones: {', '.join(f'{1000 * p:.0f}' for p in full) or '-'} ms)"
        )


def machine_note(before: tuple[float, ...], switches: int) -> str:
    """Load average and how often the OS took the client's core away (involuntary switches)."""
    after = os.getloadavg()
    return (
        f"machine: load average {before[0]:.1f} -> {after[0]:.1f} on {os.cpu_count()} cores; "
        f"client preempted {switches} times (involuntary context switches)"
    )


def scale(args: argparse.Namespace) -> None:
    ttft_ms = str(int(args.reply_s * 1000))
    pauses = GcPauses()
    load_before = os.getloadavg()
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    server_args = ("--tokens", "8", "--ttft-ms", ttft_ms, "--keep-requests", "0")
    with tempfile.TemporaryDirectory() as tmp, loopback_server(*server_args) as (url, server):
        started = time.perf_counter()
        result: LoadTestResult = anyio.run(
            lambda: loadtest(
                f"vllm:{MODEL}",
                base_url=url,
                mode="closed",
                users=args.users,
                ramp_up=args.ramp_up,
                duration=args.duration,
                drain_timeout=0.0,
                out_dir=Path(tmp),
                slo_error_rate=None,
                gc_freeze=not args.no_gc_freeze,
            )
        )
        wall = time.perf_counter() - started
        switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches
        stage = result.stages[0]
        run_dir = result.run_dir
        samples = _plateau(stage, args)
    in_flight = [p.calls_in_flight for p in samples if p.calls_in_flight is not None]
    conversations = [p.in_flight for p in samples if p.in_flight is not None]
    lag = stage.event_loop_lag
    plateau_lag = [p.lag_p99 for p in samples if p.lag_p99 is not None]
    print(f"{args.users} closed-loop users, replies take {args.reply_s:g} s, ramp-up "
          f"{args.ramp_up:g} s, {args.duration:g} s in all ({wall:.0f} s wall); client core 0, "
          "server core 1")  # fmt: skip
    print(f"  plateau ({len(samples)} one-second buckets from ramp-up + 2 s to the end):")
    print(f"    target calls in flight, client side: mean {statistics.mean(in_flight):.0f}, "
          f"min {min(in_flight):.0f} -> {statistics.mean(in_flight) / args.users:.1%} "
          "of the requested concurrency")  # fmt: skip
    print(f"    conversations in flight: mean {statistics.mean(conversations):.0f}, "
          f"min {min(conversations):.0f}")  # fmt: skip
    print(f"    server's peak requests in flight: {server.get('max_in_flight')}")
    print(f"  event-loop lag, whole run: p50 {1000 * (lag.p50 or 0):.1f} ms, p99 "
          f"{1000 * (lag.p99 or 0):.1f} ms, max {1000 * (lag.max or 0):.1f} ms; plateau "
          f"buckets' p99: worst {1000 * max(plateau_lag, default=0):.1f} ms")  # fmt: skip
    if stage.memory_per_in_flight is not None and stage.rss_max is not None:
        print(f"  memory: peak RSS {stage.rss_max / 2**20:.0f} MiB, "
              f"{stage.memory_per_in_flight / 1024:.1f} KiB per in-flight conversation "
              f"(RSS growth over {stage.in_flight_max} conversations)")  # fmt: skip
    print(
        f"  client CPU: {stage.client_cpu:.0%} of a core; {stage.calls} calls completed, "
        f"{stage.call_errors} failed; {stage.abandoned} conversations cut at the end"
    )
    print(f"  garbage collector (gc_freeze={not args.no_gc_freeze}): {pauses.report()}")
    print(f"  {machine_note(load_before, switches)}")
    print(f"  (run directory was {run_dir}; server statuses {server.get('statuses')})")


def _plateau(stage: Any, args: argparse.Namespace) -> list[Any]:
    start = args.ramp_up + 2.0
    end = args.duration - 1.0
    return [p for p in stage.series if start <= p.t < end]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="scenario", required=True)
    c = sub.add_parser("cost", help="client CPU per call vs bare SDK and raw aiohttp")
    c.add_argument("--concurrency", type=int, nargs="+", default=[64, 512])
    c.add_argument("--calls", type=int, default=3072, help="measured calls per variant")
    c.add_argument("--baseline-calls", type=int, help="fewer calls for the slow baselines")
    s = sub.add_parser("scale", help="5,000 concurrent conversations with slow replies")
    s.add_argument("--users", type=int, default=5000)
    s.add_argument("--reply-s", type=float, default=20.0)
    s.add_argument("--ramp-up", type=float, default=10.0)
    s.add_argument("--duration", type=float, default=40.0)
    s.add_argument("--no-gc-freeze", action="store_true", help="leave Python's GC alone")
    args = parser.parse_args()
    pin_to_core(0)
    cost(args) if args.scenario == "cost" else scale(args)


if __name__ == "__main__":
    main()
