"""Full garbage-collector passes during ``chatsim run`` with a local simulator's set-up loaded.

    python benchmarks/bench_run_gc.py [--episodes-per-question 2] [--concurrency 512]
                                      [--no-gc-policy] [--rounds 2]

torch, transformers and peft are imported first (what an ``hf:`` simulator run holds, without
loading weights), then every bundled ChatBench question (``--selection all``) is run against
the in-process loopback server (50 ms to the first token) with the scripted user, 3 turns at
most, ``--concurrency`` calls at once. Reports the run's wall time and every full (oldest
generation) collection: its count and duration, each a stop of the event loop. Rounds alternate
the run's GC policy (``chatsim._util._gc``) on and off.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from typing import Any

import anyio

import chatsim.runner._run as run_module
from chatsim.runner import RunConfig, execute_run, prepare_run
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_script import Latency, ReplyScript

_pauses: list[float] = []
_started = [0.0]


def _watch(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    elif info["generation"] == 2:
        _pauses.append(time.perf_counter() - _started[0])


async def one_run(args: argparse.Namespace, policy_on: bool) -> str:
    original = run_module.GcPolicy.start
    if not policy_on:
        run_module.GcPolicy.start = lambda self: None  # type: ignore[method-assign]
    script = ReplyScript("I think the answer is B.", latency=Latency.ms(50, 1))
    try:
        async with LoopbackServer(script, keep_requests=0) as server:
            with tempfile.TemporaryDirectory() as tmp:
                config = RunConfig(
                    models=("vllm:assistant",), base_url=server.base_url, simulator="scripted",
                    source="chatbench", selection="all", repeats=args.episodes_per_question,
                    concurrency=args.concurrency, max_turns=3,
                )  # fmt: skip
                setup = prepare_run(config, out_dir=tmp)
                _pauses.clear()
                started = time.perf_counter()
                try:
                    outcome = await execute_run(setup)
                finally:
                    for caller in {id(c): c for c in setup.callers.values()}.values():
                        await caller.aclose()
                wall = time.perf_counter() - started
    finally:
        run_module.GcPolicy.start = original  # type: ignore[method-assign]
    pauses = ", ".join(f"{p * 1000:.0f}" for p in _pauses)
    return (
        f"GC policy {'on ' if policy_on else 'off'}: {outcome.recorded} episodes in "
        f"{wall:.1f} s; full collections: {len(_pauses)} ({pauses} ms; with the policy, the "
        "first is its own, before any episode starts)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes-per-question", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-gc-policy", action="store_true", help="only the policy-off runs")
    args = parser.parse_args()
    import peft  # noqa: F401  (what an hf: simulator run has loaded)
    import torch  # noqa: F401
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    transformers.logging.set_verbosity_error()

    gc.callbacks.append(_watch)
    print(f"{len(gc.get_objects())} objects tracked after set-up")
    for _ in range(args.rounds):
        for on in (False,) if args.no_gc_policy else (False, True):
            print(anyio.run(one_run, args, on))


if __name__ == "__main__":
    main()
