"""Simulator benchmarks on a CPU with the tiny model (real measurements, fast settings).

    python benchmarks/bench_simulator.py            # both parts
    python benchmarks/bench_simulator.py --part throughput --batches 1 8 32 64
    python benchmarks/bench_simulator.py --part episodes --episodes 64 --latency 0.2
    python benchmarks/bench_simulator.py --part episodes --turns 4 --reply-repeat 4 \
        --context-tokens 1024 --skip-cb          # trimming-heavy: long target replies

Part 1, throughput: generated tokens per second of one ``generate`` call at batch 1, 8, 32 and
64, on the tiny Mistral with random weights (so every turn runs to ``--new-tokens``; stop
strings stay on, as in production). First-turn prompts of ~130 tokens.

Part 2, episodes: N concurrent episodes, each asks for ``--turns`` user turns, and between
turns awaits a fake target that answers after ``--latency`` seconds (``anyio.sleep``), on the
trained tiny model (turns stop at ``[END]`` as the real adapter's do). Compared schedulers:
the micro-batcher at several ``max_wait`` values, no batching (one turn per ``generate``), and
transformers' continuous batching (experimental backend). Reported: wall time, turns/s, mean
batch size and fill, mean added latency (time a turn waited for its batch), and the fraction of
the wall time the model was generating (busy).

The GPU version (Mistral-7B shape, bf16) is ``benchmarks/gpu/run_gpu_bench.sh``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_simulator_workload import (  # noqa: E402 - after the path tweak
    Report,
    first_turn_requests,
    run_episodes,
)


def _engine(
    path: Path, *, trained: bool, new_tokens: int, batch: int, context_tokens: int = 2048
) -> Any:
    from chatsim.simulators._hf_load import load_engine
    from chatsim.simulators._hf_options import HFOptions
    from chatsim.testing import build_tiny_chatbench

    started = time.perf_counter()
    paths = build_tiny_chatbench(path, train_steps=120 if trained else 0)
    built = time.perf_counter() - started
    print(f"# built tiny model ({'trained' if trained else 'random'}) in {built:.1f}s")
    options = HFOptions(
        max_new_tokens=new_tokens,
        temperature=0.0,
        max_batch_size=batch,
        context_tokens=context_tokens,
    )
    return load_engine(f"{paths.base}+{paths.adapter}", options)


def throughput(engine: Any, batches: list[int], repeats: int) -> None:
    print("\n## tokens/s of one generate call (tiny model, random weights, CPU)")
    print(f"{'batch':>6} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'vs batch 1':>10}")
    base_rate = None
    engine.generate_batch(*_prompts(engine, 2))  # warm-up
    for size in batches:
        prompts, seeds = _prompts(engine, size)
        times, tokens = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            out = engine.generate_batch(prompts, seeds)
            times.append(time.perf_counter() - started)
            tokens = sum(n for _, _, n in out)
        seconds = statistics.median(times)
        rate = tokens / seconds
        base_rate = base_rate or rate
        print(f"{size:>6} {tokens:>7} {seconds:>8.3f} {rate:>9.0f} {rate / base_rate:>9.1f}x")


def _prompts(engine: Any, size: int) -> tuple[list[str], list[int]]:
    requests = first_turn_requests(size)
    return [engine.prompt(r)[0] for r in requests], [r.seed for r in requests]


def episodes(engine: Any, args: argparse.Namespace) -> None:
    from chatsim.simulators._hf import HFSimulator
    from chatsim.simulators._hf_cb import ContinuousHFSimulator

    print(
        f"\n## {args.episodes} episodes x {args.turns} user turns, target latency "
        f"{args.latency:g}s (tiny trained model, CPU, max {args.new_tokens} new tokens)"
    )
    print(Report.header())
    for max_wait in args.max_waits:
        sim = HFSimulator(engine)
        report = anyio.run(run_episodes, sim, args, f"batcher max_wait={max_wait:g}", max_wait)
        print(report.row())
    sim = HFSimulator(engine)
    print(anyio.run(run_episodes, sim, args, "no batching (batch 1)", None).row())
    if not args.skip_cb:
        cb = ContinuousHFSimulator(
            engine,
            cb_config={
                # On a CPU, attention runs over dense masks of max_batch_tokens x cache
                # tokens: keep both small (here ~0.7 GB of process memory in all).
                "num_blocks": 512,
                "page_size": 64,
                "max_batch_tokens": 1024,
                "max_requests_per_batch": args.batch,
                "use_cuda_graph": False,
                "allow_block_sharing": False,
            },
        )
        print(anyio.run(run_episodes, cb, args, "continuous batching (transformers)", None).row())
        anyio.run(cb.aclose)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "throughput", "episodes"], default="all")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=64, help="max batch size (episodes part)")
    parser.add_argument("--max-waits", type=float, nargs="+", default=[0.0, 0.01, 0.05])
    parser.add_argument("--skip-cb", action="store_true", help="skip continuous batching")
    parser.add_argument(
        "--reply-repeat", type=int, default=1, help="target reply length, in ~50-token units"
    )
    parser.add_argument("--context-tokens", type=int, default=2048)
    args = parser.parse_args()
    import torch

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("all", "throughput"):
            engine = _engine(
                Path(tmp, "random"),
                trained=False,
                new_tokens=args.new_tokens,
                batch=max(args.batches),
            )
            throughput(engine, args.batches, args.repeats)
        if args.part in ("all", "episodes"):
            engine = _engine(
                Path(tmp, "trained"),
                trained=True,
                new_tokens=args.new_tokens,
                batch=args.batch,
                context_tokens=args.context_tokens,
            )
            episodes(engine, args)


if __name__ == "__main__":
    main()
