"""Run the loopback server as a process (benchmarks, load tests, manual runs).

    python -m chatsim.testing.server --port 0 --tokens 20 --ttft-ms 5 --itl-ms 1
    python -m chatsim.testing.server --port 8000 --demo   # plays both user and assistant

prints the base URL (``http://127.0.0.1:PORT/v1``) on stdout once it accepts connections,
serves until SIGINT/SIGTERM, then prints its counters as one JSON line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import signal
import sys
from collections.abc import Sequence

from chatsim.testing._demo import demo_reply
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_capacity import Capacity, RateLimits
from chatsim.testing._server_script import DEFAULT_REPLY, Latency, ReplyScript

__all__ = ["build_server", "main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m chatsim.testing.server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--reply", default=DEFAULT_REPLY, help="constant reply text")
    p.add_argument(
        "--demo",
        action="store_true",
        help="play a whole conversation: the prompted user's turns and the assistant's replies "
        "(try chatsim with no key: see the README)",
    )
    p.add_argument("--tokens", type=int, help="reply with N words instead of --reply")
    p.add_argument("--chunks", type=int, help="split the reply into N chunks (default: per word)")
    p.add_argument("--ttft-ms", type=float, default=0.0, help="time to first token")
    p.add_argument("--itl-ms", type=float, default=0.0, help="delay between chunks")
    p.add_argument("--workers", type=int, help="serve at most N requests at once; others queue")
    p.add_argument("--queue-limit", type=int, help="with --workers: reject beyond N waiting")
    p.add_argument("--reject-status", type=int, default=429, choices=(429, 503))
    p.add_argument("--rpm", type=int, help="report x-ratelimit-* for N requests/minute")
    p.add_argument("--tpm", type=int, help="report x-ratelimit-* for N tokens/minute")
    p.add_argument("--enforce-rate-limits", action="store_true", help="429 once spent")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=P",
        help=f"random fault rate, repeatable; kinds: {', '.join(k.value for k in FaultKind)}",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    p.add_argument("--api-key", help="answer 401 to any other key")
    p.add_argument("--keep-requests", type=int, default=0, help="requests kept in memory")
    p.add_argument("--uvloop", action="store_true", help="use uvloop when installed")
    return p.parse_args(argv)


def _fault_rates(specs: list[str]) -> dict[Fault | FaultKind | str, float]:
    rates: dict[Fault | FaultKind | str, float] = {}
    for spec in specs:
        kind, sep, rate = spec.partition("=")
        try:
            rates[FaultKind(kind.strip())] = float(rate) if sep else 1.0
        except ValueError:
            raise SystemExit(f"bad --fault {spec!r}: use KIND=P with KIND one of "
                             f"{', '.join(k.value for k in FaultKind)}") from None  # fmt: skip
    return rates


def build_server(args: argparse.Namespace) -> LoopbackServer:
    text = args.reply if args.tokens is None else " ".join(f"tok{i}" for i in range(args.tokens))
    latency = Latency.ms(args.ttft_ms, args.itl_ms, args.chunks)
    capacity = None
    if args.workers:
        capacity = Capacity(args.workers, args.queue_limit, args.reject_status)
    limits = None
    if args.rpm or args.tpm:
        limits = RateLimits(args.rpm, args.tpm, enforce=args.enforce_rate_limits)
    script = ReplyScript(demo_reply if args.demo else text, latency=latency)
    return LoopbackServer(
        script,
        faults=FaultPlan(_fault_rates(args.fault), seed=args.seed),
        capacity=capacity,
        rate_limits=limits,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        keep_requests=args.keep_requests,
    )


async def _serve(args: argparse.Namespace) -> None:
    # asyncio directly: aiohttp's server needs it, and signal handlers live on the loop.
    server = build_server(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        print(server.base_url, flush=True)
        await stop.wait()
        stats = server.stats
        summary = {
            "requests": stats.requests,
            "max_in_flight": stats.max_in_flight,
            "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
            "faults": {str(k): v for k, v in server.faults.injected.items()},
        }
    print(json.dumps(summary), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.uvloop:
        with contextlib.suppress(ImportError):  # optional, not a dependency
            asyncio.set_event_loop_policy(importlib.import_module("uvloop").EventLoopPolicy())
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
