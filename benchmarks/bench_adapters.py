"""Client CPU per streamed call: each chatsim target adapter next to its vendor's bare SDK.

    python benchmarks/bench_adapters.py [--concurrency 64 --concurrency 512] [--calls 512]
        [--only openai-fast --only anthropic ...] [--tokens 30] [--layer caller] [--json]

Rows (``--only``; default all):

- ``openai-fast`` / ``openai-sdk``: ``openai:bench`` on each transport vs a bare
  ``AsyncOpenAI().chat.completions.create(stream=True)`` loop;
- ``anthropic`` / ``anthropic-sdk``: ``anthropic:bench`` on its default (``fast``) and ``sdk``
  transports vs a bare ``AsyncAnthropic().messages.create(stream=True)``;
- ``gemini`` / ``gemini-sdk``: ``gemini:bench`` on its default (``fast``) and ``sdk`` transports
  vs a bare ``genai.Client().aio.models.generate_content_stream``;
- ``litellm``: ``litellm:openai/bench`` (when ``chatsim_litellm`` is installed) vs a bare
  ``litellm.acompletion(stream=True)``, both against the OpenAI loopback server.

Each wire's loopback server (``chatsim.testing.LoopbackServer``,
``chatsim_anthropic.testing.AnthropicLoopbackServer``, ``chatsim_gemini.testing.
GeminiLoopbackServer``) runs in its own process pinned to core 1 and replies instantly with
the same ``--tokens`` words, one streamed delta per word; this client is pinned to core 0, so
its ``time.process_time`` is the client's CPU alone. Adapters are built from their spec by
``chatsim.targets.build_caller`` (endpoints and keys from the vendors' own variables, as a run
with a gateway sets them) and called through the ``TargetCaller``, i.e. what a run pays per
target call (``--layer adapter``: ``adapter.complete`` alone). Bare SDKs run with their
defaults, as a user would write them, except that every client, bare or not, has the core's
attempt timeout (120 s; the SDKs' shorter connect timeouts fire when a client at concurrency
512 is out of CPU) and no SDK retries. A failed call is counted (``errors``), not fatal.

Each client makes ``--calls`` streamed calls (at least two per worker) of a 3-turn
conversation (bench_transport's) through ``concurrency`` workers, after a warm-up round of
one call per worker; every reply is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from _loopback import loopback_server, pin_to_core, server_process
from bench_transport import CONVERSATION, MESSAGES

from chatsim.protocol import Role
from chatsim.targets import CallPolicy, TargetRequest, build_caller

MODEL = "bench"
KEY = "bench-key"
# Every client, bare or not, gets the core's attempt timeout instead of its SDK's default:
# a client out of CPU at concurrency 512 otherwise trips openai's 5 s connect timeout.
TIMEOUT = CallPolicy().attempt_timeout
SYSTEM = "\n\n".join(m.content for m in CONVERSATION if m.role is Role.SYSTEM)
TURNS = [m for m in CONVERSATION if m.role is not Role.SYSTEM]
# Set before litellm is imported (bare or through chatsim_litellm): no cost-map download, no
# .env file read. The same switches chatsim_litellm sets.
LITELLM_OFFLINE = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_MODE": "PRODUCTION",
}

Call = Callable[[], Awaitable[str]]
Close = Callable[[], Awaitable[None]]
Urls = dict[str, str]
Factory = Callable[[Urls, int, str], Awaitable[tuple[Call, Close]]]


def reply_text(tokens: int) -> str:
    return " ".join(f"tok{i}" for i in range(tokens))


# -- chatsim's adapters, built from their specs ------------------------------------------------


def _adapter(spec: str, **options: Any) -> Factory:
    async def make(urls: Urls, concurrency: int, layer: str) -> tuple[Call, Close]:
        # No queueing in the core and no retries: every call is one attempt, as the bare SDKs.
        policy = CallPolicy(max_concurrency=concurrency, max_attempts=1)
        caller = build_caller(spec, options={"timeout": TIMEOUT, **options}, policy=policy)
        request = TargetRequest(messages=CONVERSATION, temperature=0.7)
        if layer == "adapter":
            adapter = caller.adapter

            async def direct() -> str:
                return (await adapter.complete(request, now=time.perf_counter)).text

            return direct, caller.aclose

        async def via_caller() -> str:
            return (await caller.call(request)).text

        return via_caller, caller.aclose

    return make


def _adapter_env(urls: Urls) -> None:
    """Each vendor's own endpoint and key variables: how a run reaches a gateway."""
    os.environ.pop("GOOGLE_API_KEY", None)  # would win over GEMINI_API_KEY
    os.environ.update(OPENAI_API_KEY=KEY, ANTHROPIC_API_KEY=KEY, GEMINI_API_KEY=KEY)
    os.environ.update(LITELLM_OFFLINE)
    for wire, variable in (
        ("openai", "OPENAI_BASE_URL"),
        ("anthropic", "ANTHROPIC_BASE_URL"),
        ("gemini", "GOOGLE_GEMINI_BASE_URL"),
    ):
        if wire in urls:
            os.environ[variable] = urls[wire]


# -- the bare SDKs -----------------------------------------------------------------------------


async def _bare_openai(urls: Urls, concurrency: int, layer: str) -> tuple[Call, Close]:
    import openai

    client = openai.AsyncOpenAI(
        base_url=urls["openai"], api_key=KEY, max_retries=0, timeout=TIMEOUT
    )

    async def call() -> str:
        stream = await client.chat.completions.create(  # type: ignore[call-overload]
            model=MODEL,
            messages=MESSAGES,
            temperature=0.7,
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    return call, client.close


async def _bare_anthropic(urls: Urls, concurrency: int, layer: str) -> tuple[Call, Close]:
    import anthropic
    from anthropic.types import MessageParam, TextDelta
    from anthropic.types import RawContentBlockDeltaEvent as ContentDelta

    client = anthropic.AsyncAnthropic(
        base_url=urls["anthropic"], api_key=KEY, max_retries=0, timeout=TIMEOUT
    )
    turns: list[MessageParam] = [
        {"role": "assistant", "content": m.content}
        if m.role is Role.ASSISTANT
        else {"role": "user", "content": m.content}
        for m in TURNS
    ]

    async def call() -> str:
        stream = await client.messages.create(
            model=MODEL,
            max_tokens=1024,
            system=SYSTEM,
            messages=turns,
            stream=True,
            # This SDK version takes no ``temperature`` argument; the body field still goes.
            extra_body={"temperature": 0.7},
        )
        parts: list[str] = []
        async for event in stream:
            if isinstance(event, ContentDelta) and isinstance(event.delta, TextDelta):
                parts.append(event.delta.text)
        return "".join(parts)

    return call, client.close


async def _bare_gemini(urls: Urls, concurrency: int, layer: str) -> tuple[Call, Close]:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=urls["gemini"], timeout=int(TIMEOUT * 1000))  # in ms
    client = genai.Client(api_key=KEY, http_options=options)
    contents = [
        types.Content(
            role="model" if m.role is Role.ASSISTANT else "user",
            parts=[types.Part(text=m.content)],
        )
        for m in TURNS
    ]
    config = types.GenerateContentConfig(system_instruction=SYSTEM, temperature=0.7)

    async def call() -> str:
        stream = await client.aio.models.generate_content_stream(
            model=MODEL, contents=contents, config=config
        )
        return "".join([chunk.text or "" async for chunk in stream])

    return call, client.aio.aclose


async def _bare_litellm(urls: Urls, concurrency: int, layer: str) -> tuple[Call, Close]:
    os.environ.update(LITELLM_OFFLINE)
    litellm: Any = importlib.import_module("litellm")  # partial types; read as Any

    async def call() -> str:
        stream = await litellm.acompletion(
            model=f"openai/{MODEL}",
            messages=MESSAGES,
            api_base=urls["openai"],
            api_key=KEY,
            timeout=TIMEOUT,
            temperature=0.7,
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async def close() -> None:
        await litellm.close_litellm_async_clients()

    return call, close


@dataclass(frozen=True)
class Client:
    wire: str
    make: Factory


CLIENTS = {
    "openai:bench fast": Client("openai", _adapter("openai:bench", transport="fast")),
    "openai:bench sdk": Client("openai", _adapter("openai:bench", transport="sdk")),
    "AsyncOpenAI": Client("openai", _bare_openai),
    "anthropic:bench fast": Client("anthropic", _adapter("anthropic:bench", transport="fast")),
    "anthropic:bench sdk": Client("anthropic", _adapter("anthropic:bench", transport="sdk")),
    "AsyncAnthropic": Client("anthropic", _bare_anthropic),
    "gemini:bench": Client("gemini", _adapter("gemini:bench")),
    "gemini:bench sdk": Client("gemini", _adapter("gemini:bench", transport="sdk")),
    "google-genai": Client("gemini", _bare_gemini),
    "litellm:openai/bench": Client("openai", _adapter("litellm:openai/bench")),
    "litellm.acompletion": Client("openai", _bare_litellm),
}
# ``--only`` name: (chatsim adapter, bare SDK).
ROWS = {
    "openai-fast": ("openai:bench fast", "AsyncOpenAI"),
    "openai-sdk": ("openai:bench sdk", "AsyncOpenAI"),
    "anthropic": ("anthropic:bench fast", "AsyncAnthropic"),
    "anthropic-sdk": ("anthropic:bench sdk", "AsyncAnthropic"),
    "gemini": ("gemini:bench", "google-genai"),
    "gemini-sdk": ("gemini:bench sdk", "google-genai"),
    "litellm": ("litellm:openai/bench", "litellm.acompletion"),
}


LAYERS = {"caller": "through the TargetCaller", "adapter": "by adapter.complete alone"}


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    client: str
    concurrency: int
    calls: int
    """Measured calls, failed ones included (their CPU counts too)."""
    errors: int
    """Measured calls that raised or returned the wrong text."""
    cpu_ms: float
    calls_per_s: float
    p50_ms: float
    """Latency of the successful calls."""
    p99_ms: float
    first_error: str | None = None


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def failed(self, why: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or why


async def _drive(
    call: Call, calls: int, concurrency: int, expected: str
) -> tuple[float, float, _Tally]:
    per_worker = max(1, calls // concurrency)
    tally = _Tally()

    async def checked(into: _Tally) -> None:
        start = time.perf_counter()
        try:
            text = await call()
        except Exception as exc:  # a client starved of CPU times out: count it, keep going
            into.failed(f"{type(exc).__name__}: {exc}"[:200])
            return
        if text != expected:
            into.failed(f"wrong reply {text[:60]!r}")
            return
        into.latencies.append(time.perf_counter() - start)

    async def worker() -> None:
        for _ in range(per_worker):
            await checked(tally)

    # Warm-up: open the connections, fill caches; not counted.
    await asyncio.gather(*(checked(_Tally()) for _ in range(concurrency)))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu0, time.perf_counter() - wall0, tally


async def _measure(
    name: str, urls: Urls, calls: int, concurrency: int, expected: str, layer: str
) -> Result:
    call, close = await CLIENTS[name].make(urls, concurrency, layer)
    # litellm's pool-saturation warnings at 512 (its limit_per_host is 500) would flood stderr.
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    try:
        cpu, wall, tally = await _drive(call, calls, concurrency, expected)
    finally:
        await close()
    done = len(tally.latencies) + tally.errors
    cuts = statistics.quantiles(tally.latencies, n=100) if len(tally.latencies) > 1 else [0.0] * 99
    return Result(
        name,
        concurrency,
        done,
        tally.errors,
        1000 * cpu / done,
        len(tally.latencies) / wall,
        1000 * cuts[49],
        1000 * cuts[98],
        tally.first_error,
    )


def _litellm_adapter_missing() -> str | None:
    """Why the ``litellm:`` adapter row cannot run, or None when it can."""
    if importlib.util.find_spec("chatsim_litellm") is None:
        return "chatsim_litellm is not installed"
    try:
        importlib.import_module("chatsim_litellm")
    except Exception as exc:  # another distribution: report, do not fail the other rows
        return f"chatsim_litellm does not import: {exc!r}"
    return None


@contextlib.contextmanager
def _servers(wires: set[str], tokens: int) -> Iterator[Urls]:
    """One server process per wire needed, each pinned to core 1."""
    with contextlib.ExitStack() as stack:
        urls: Urls = {}
        if "openai" in wires:
            urls["openai"] = stack.enter_context(loopback_server("--tokens", str(tokens)))
        for wire in sorted(wires - {"openai"}):
            argv = [__file__, "--serve", wire, "--tokens", str(tokens)]
            urls[wire] = stack.enter_context(server_process(argv, core=1))
        yield urls


# -- the servers' process (``--serve``) --------------------------------------------------------


async def _serve(wire: str, tokens: int) -> None:
    server: Any
    if wire == "anthropic":
        from chatsim_anthropic.testing import AnthropicLoopbackServer

        server = AnthropicLoopbackServer(reply_text(tokens))
    else:
        from chatsim_gemini.testing import GeminiLoopbackServer

        server = GeminiLoopbackServer(reply_text(tokens), keep_requests=0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(server.base_url, flush=True)
        await stop.wait()


# -- the command -------------------------------------------------------------------------------


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--concurrency", type=int, action="extend", nargs="+", help="repeatable (64 512)"
    )
    parser.add_argument(
        "--calls", type=int, default=512, help="measured calls per client (at least 2 per worker)"
    )
    parser.add_argument("--only", action="extend", nargs="+", choices=list(ROWS), help="rows")
    parser.add_argument("--tokens", type=int, default=30, help="words (= deltas) per reply")
    parser.add_argument(
        "--layer",
        choices=list(LAYERS),
        default="caller",
        help="adapters through the TargetCaller (what a run pays), or adapter.complete alone",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--serve", choices=("anthropic", "gemini"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.concurrency = args.concurrency or [64, 512]
    args.only = list(dict.fromkeys(args.only or ROWS))
    if min(args.concurrency) < 1 or args.calls < 1 or args.tokens < 1:
        parser.error("--concurrency, --calls and --tokens must be positive")
    return args


def main() -> None:
    args = _parse()
    if args.serve:
        asyncio.run(_serve(args.serve, args.tokens))
        return
    pin_to_core(0)
    notes: list[str] = []
    missing = _litellm_adapter_missing() if "litellm" in args.only else None
    if missing:
        notes.append(f"litellm:openai/bench not measured: {missing}")
    skip = {ROWS["litellm"][0]} if missing else set()
    names = list(dict.fromkeys(n for row in args.only for n in ROWS[row] if n not in skip))
    expected = reply_text(args.tokens)
    results: list[Result] = []
    with _servers({CLIENTS[n].wire for n in names}, args.tokens) as urls:
        _adapter_env(urls)
        for concurrency in args.concurrency:
            calls = max(args.calls, 2 * concurrency)
            for name in names:
                result = asyncio.run(_measure(name, urls, calls, concurrency, expected, args.layer))
                results.append(result)
                print(json.dumps(asdict(result)), file=sys.stderr, flush=True)
    notes += [
        f"{r.client} at {r.concurrency}: {r.errors} of {r.calls} calls failed ({r.first_error})"
        for r in results
        if r.errors
    ]
    rows = _rows(results, args.only, args.concurrency)
    if args.json:
        setup = {"tokens": args.tokens, "calls": args.calls, "layer": args.layer}
        measured = [asdict(r) for r in results]
        print(json.dumps({"setup": setup, "results": measured, "rows": rows, "notes": notes}))
    else:
        _print_table(rows, args, notes)


def _rows(results: list[Result], only: list[str], levels: list[int]) -> list[dict[str, Any]]:
    by = {(r.client, r.concurrency): r for r in results}
    rows: list[dict[str, Any]] = []
    for concurrency in levels:
        for row in only:
            adapter_name, bare_name = ROWS[row]
            adapter, bare = by.get((adapter_name, concurrency)), by[(bare_name, concurrency)]
            rows.append(
                {
                    "row": row,
                    "adapter": adapter_name,
                    "bare": bare_name,
                    "concurrency": concurrency,
                    "adapter_result": asdict(adapter) if adapter else None,
                    "bare_result": asdict(bare),
                    "ratio": adapter.cpu_ms / bare.cpu_ms if adapter else None,
                }
            )
    return rows


def _print_table(rows: list[dict[str, Any]], args: argparse.Namespace, notes: list[str]) -> None:
    print(
        f"client CPU per streamed call, {args.tokens} deltas per reply, loopback servers "
        f"replying instantly, adapters {LAYERS[args.layer]}, one pinned client core\n"
    )
    print(
        "| adapter | bare SDK | conc | adapter CPU ms/call | SDK CPU ms/call | ratio "
        "| adapter p50 / p99 ms | SDK p50 / p99 ms |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        a, b = row["adapter_result"], row["bare_result"]
        a_cpu = f"{a['cpu_ms']:.2f}" if a else "n/a"
        a_lat = f"{a['p50_ms']:.0f} / {a['p99_ms']:.0f}" if a else "n/a"
        ratio = f"{row['ratio']:.2f}" if a else "n/a"
        print(
            f"| `{row['adapter']}` | `{row['bare']}` | {row['concurrency']} | {a_cpu} "
            f"| {b['cpu_ms']:.2f} | {ratio} | {a_lat} | {b['p50_ms']:.0f} / {b['p99_ms']:.0f} |"
        )
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
