"""Timing fidelity: chatsim's time to first token against the server's scripted delay.

    python benchmarks/bench_timing.py [--streams 1000] [--ttft-ms 2000] [--duration 20]
                                      [--itl-ms 0] [--baseline] [--rounds 2]

The loopback server (``chatsim.testing``'s, in its own process pinned to core 1) sends the
first content chunk of every streamed reply ``--ttft-ms`` after it receives the request, then
the other ``--tokens - 1`` chunks ``--itl-ms`` apart. ``--streams`` closed-loop users (the load
tester, pinned to core 0, ramped up over ``--ramp-up`` s) keep that many streams open for
``--duration`` seconds. The server keeps, per request id, when it received the request and when
it wrote the first content chunk; matching them with the ids chatsim recorded splits each
call's error (chatsim's TTFT - the scripted delay) into

- *server*: the server's own lateness (its TTFT as it wrote it - the scripted delay);
- *client+net*: chatsim's TTFT - the server's TTFT: the loopback network and the client's
  lateness (sending, reading, timestamping), the part chatsim answers for.

``--baseline`` runs a minimal raw-aiohttp client too (one-turn chats, ``perf_counter`` at
the first content line), split the same way; ``--rounds N`` alternates the clients N times so
that a change in the machine's load (its cores are shared) favours neither.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import anyio
import numpy as np
from bench_scale import MODEL, QUESTION, machine_note, pin_to_core

from chatsim.loadtest import LoadTestResult, iter_episodes, loadtest
from chatsim.protocol import Role

Pairs = list[tuple[str, float]]  # (request id, TTFT the client measured)


# --- the server process: the loopback server, plus its per-request first-token times


def serve(argv: list[str]) -> None:
    """``bench_timing.py --serve OUT_JSON SERVER_ARGS...``: serve until SIGTERM, then write
    ``{request id: seconds from receipt to the first content chunk}`` to OUT_JSON."""
    from chatsim.testing.server import build_server, parse_args

    out, server_args = argv[0], argv[1:]
    parsed = parse_args([*server_args, "--keep-requests", "1000000"])
    server = build_server(parsed)
    if parsed.uvloop:
        asyncio.set_event_loop_policy(importlib.import_module("uvloop").EventLoopPolicy())

    async def freeze_heap() -> None:
        # The server keeps every request's record (the reference times), so its heap grows
        # all run and CPython's full collections grow with it (one took ~60 ms here): freeze
        # what survived, as the load tester does, so the reference itself stays on time.
        while True:
            gc.freeze()
            await asyncio.sleep(0.5)

    async def run() -> dict[str, float]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        freezer = asyncio.ensure_future(freeze_heap())
        async with server:
            print(server.base_url, flush=True)
            await stop.wait()
            freezer.cancel()
            return {r.request_id: r.sent_ttft for r in server.requests if r.sent_ttft is not None}

    Path(out).write_text(json.dumps(asyncio.run(run())))


@contextmanager
def server_process(out: Path, *args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(out), "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: pin_to_core(1),
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"server did not start: {url!r}")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


# --- the clients


async def _lag_probe(lags: list[float]) -> None:
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - before - 0.01)


async def raw_aiohttp(url: str, streams: int, duration: float) -> tuple[Pairs, str]:
    """``streams`` workers stream one-turn chats back to back, timing the first content."""
    body = json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    )
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    pairs: Pairs = []
    end = time.perf_counter() + duration
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker(start_after: float) -> None:
            await asyncio.sleep(start_after)
            while time.perf_counter() < end:
                sent = time.perf_counter()
                first = None
                async with session.post(f"{url}/chat/completions", data=body, headers=headers) as r:
                    async for line in r.content:
                        if first is None and b'"content":"' in line and b'"content":""' not in line:
                            first = time.perf_counter()
                    if first is not None:
                        pairs.append((r.headers["x-request-id"], first - sent))

        lags: list[float] = []
        probe = asyncio.ensure_future(_lag_probe(lags))
        ramp = min(2.0, duration / 4)
        await asyncio.gather(*(worker(i * ramp / streams) for i in range(streams)))
        probe.cancel()
    p99, worst = np.percentile(lags, 99) * 1000, max(lags) * 1000
    return pairs, f"loop lag p99 {p99:.1f} ms (max {worst:.1f})"


def chatsim_loadtest(url: str, args: argparse.Namespace, out: Path) -> tuple[Pairs, str]:
    result: LoadTestResult = anyio.run(
        lambda: loadtest(
            f"vllm:{MODEL}",
            base_url=url,
            mode="closed",
            users=args.streams,
            ramp_up=args.ramp_up,
            duration=args.duration,
            drain_timeout=30.0,
            out_dir=out,
            slo_error_rate=None,
        ),
        backend_options={"use_uvloop": args.uvloop},
    )
    pairs: Pairs = []
    send_delays: list[float] = []
    connects: list[float] = []
    for episode in iter_episodes(result.run_dir):
        for turn in episode.turns:
            ok = [a for a in turn.attempts if a.outcome == "ok"]
            if turn.role is not Role.ASSISTANT or not ok or turn.first_token_at is None:
                continue
            attempt = ok[-1]
            # TTFT as chatsim reports it: from the wire send (schema 2's sent_at).
            sent = attempt.started_at if attempt.sent_at is None else attempt.sent_at
            send_delays.append(sent - attempt.started_at - (attempt.connect_time or 0.0))
            if attempt.connect_time is not None:
                connects.append(attempt.connect_time)
            if attempt.request_id is not None:
                pairs.append((attempt.request_id, turn.first_token_at - sent))
    stage = result.stages[0]
    lag = stage.event_loop_lag
    delay_p50, delay_p99 = np.percentile(np.array(send_delays) * 1000, [50, 99])
    connect_p50, connect_p99 = np.percentile(np.array(connects or [np.nan]) * 1000, [50, 99])
    note = (
        f"peak {stage.calls_in_flight_max} calls in flight, {stage.call_rate:.0f} calls/s, "
        f"client CPU {stage.client_cpu:.0%} of a core, loop lag p99 "
        f"{1000 * (lag.p99 or 0):.1f} ms (max {1000 * (lag.max or 0):.1f}), "
        f"{stage.call_errors} failed calls; the client's own send delay (attempt start to "
        f"wire, not in TTFT) p50 {delay_p50:.2f} / p99 {delay_p99:.2f} ms; {len(connects)} new "
        f"connections (set-up, not in TTFT) p50 {connect_p50:.2f} / p99 {connect_p99:.2f} ms"
    )
    return pairs, note


# --- report


def _row(name: str, values: np.ndarray) -> str:
    ms = values * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return (
        f"  {name:<12}{ms.size:>7}{ms.mean():>8.2f}{p50:>8.2f}{p95:>8.2f}{p99:>8.2f}"
        f"{np.abs(ms).max():>9.2f}"
    )


def _split(name: str, pairs: Pairs, server: dict[str, float], delay: float) -> list[str]:
    matched = [(ttft, server[rid]) for rid, ttft in pairs if rid in server]
    client = np.array([c for c, _ in matched])
    served = np.array([s for _, s in matched])
    return [
        f"{name} ({len(pairs)} calls, {len(matched)} matched with the server's records)",
        _row("total", client - delay),
        _row("server", served - delay),
        _row("client+net", client - served),
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--ttft-ms", type=float, default=2000.0)
    parser.add_argument("--itl-ms", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--ramp-up", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--baseline", action="store_true", help="also run raw aiohttp")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the clients N times")
    parser.add_argument("--uvloop", action="store_true", help="server and clients on uvloop")
    args = parser.parse_args()
    pin_to_core(0)
    delay = args.ttft_ms / 1000
    server_args = ("--tokens", str(args.tokens), "--ttft-ms", f"{args.ttft_ms:g}",
                   "--itl-ms", f"{args.itl_ms:g}")  # fmt: skip
    server_args += ("--uvloop",) if args.uvloop else ()
    load_before = os.getloadavg()
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    runs: list[tuple[str, Pairs, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        times = Path(tmp) / "server_ttft.json"
        with server_process(times, *server_args) as url:
            for round_ in range(1, args.rounds + 1):
                pairs, note = chatsim_loadtest(url, args, Path(tmp))
                runs.append((f"chatsim loadtest, round {round_}", pairs, note))
                if args.baseline:
                    if args.uvloop:
                        asyncio.set_event_loop_policy(
                            importlib.import_module("uvloop").EventLoopPolicy()
                        )
                    pairs, note = asyncio.run(raw_aiohttp(url, args.streams, args.duration))
                    runs.append((f"raw aiohttp, round {round_}", pairs, note))
        server = json.loads(times.read_text())
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches
    print(f"TTFT error vs the scripted {args.ttft_ms:g} ms at {args.streams} concurrent streams "
          f"({args.tokens} chunks, {args.itl_ms:g} ms apart), in ms")  # fmt: skip
    print(f"  {'':<12}{'calls':>7}{'mean':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max |e|':>9}")
    for name, pairs, note in runs:
        print("\n".join(_split(name, pairs, server, delay)))
        print(f"  {note}")
    print(machine_note(load_before, switches))


if __name__ == "__main__":
    main()
