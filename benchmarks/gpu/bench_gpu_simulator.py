"""GPU benchmark of the local simulator: a Mistral-7B-shaped model in bf16, random weights.

    benchmarks/gpu/run_gpu_bench.sh            # wraps this script; from the repo root

No download is needed: the model is built from ``MistralConfig()`` (Mistral-7B's shape) with
random bf16 weights directly on the GPU, plus a random LoRA with the card's settings (r=8,
alpha 32, q_proj/v_proj), and a BPE tokenizer (32k) trained here on the rendered prompts. A
random model never writes ``[END]``, so every turn runs to ``--new-tokens`` (real ChatBench
user turns are short: 64 is a fair stand-in).

Measures:
1. tokens/s of one ``generate`` call at batch 1, 8, 32, 64 (goal: batch 64 >= 15x batch 1);
2. ``--episodes`` episodes (256) x ``--turns`` turns against a fake target with ``--latency``
   (1 s) through the micro-batcher: wall time, mean batch, added latency, and the GPU busy
   fraction two ways: time inside ``generate`` / wall, and NVML (or nvidia-smi) utilisation
   sampled every 100 ms (goal: >= 80%);
3. optionally (``--cb``) the same episodes through transformers' continuous batching.

Writes a JSON summary to ``--json`` (default ``$OUT/gpu_bench.json`` when ``$OUT`` is set).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

from bench_simulator_workload import first_turn_requests, run_episodes  # noqa: E402


class UtilisationSampler:
    """Samples GPU utilisation (%) every ``interval`` s on a thread: NVML, else nvidia-smi."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.source = "none"

    def _reader(self) -> Any:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self.source = "nvml"
            return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:
            pass
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        try:
            subprocess.run(query, check=True, capture_output=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        self.source = "nvidia-smi"
        return lambda: float(
            subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.split()[0]
        )

    def _run(self) -> None:
        read = self._reader()
        while read is not None and not self._stop.wait(self.interval):
            try:
                self.samples.append(read())
            except Exception:
                continue

    def __enter__(self) -> UtilisationSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


def build_engine(args: argparse.Namespace) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    from chatsim.protocol import get_format, render_text
    from chatsim.simulators._hf_engine import HFEngine
    from chatsim.simulators._hf_options import HFOptions
    from chatsim.testing._tiny_model import CARD_LORA, TINY_MISTRAL_SHAPE, _train_tokenizer

    started = time.perf_counter()
    fmt = get_format("chatbench-text-v1")
    texts = [render_text(fmt, r.question, (), r.step) for r in first_turn_requests(1000)]
    tokenizer = _train_tokenizer(texts, 32000)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    config = MistralConfig(bos_token_id=1, eos_token_id=2)  # Mistral-7B's shape
    device, dtype = "cuda", torch.bfloat16
    if args.smoke_cpu:  # a check of this script without a GPU: a tiny model, same code
        config = MistralConfig(**TINY_MISTRAL_SHAPE, bos_token_id=1, eos_token_id=2)
        device, dtype = "cpu", torch.float32
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)
    with torch.device(device):
        model = MistralForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    lora = LoraConfig(
        **CARD_LORA,
        task_type="CAUSAL_LM",
        init_lora_weights=False,  # random B: a real, non-zero adapter
    )
    model = get_peft_model(model, lora).eval()
    _sync()
    options = HFOptions(
        max_new_tokens=args.new_tokens,
        temperature=1.0,
        max_batch_size=args.batch,
        context_tokens=2048,
    )
    memory = torch.cuda.memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
    seconds = time.perf_counter() - started
    print(f"# model ready in {seconds:.1f}s; {memory:.1f} GiB on the GPU", flush=True)
    return HFEngine(model, tokenizer, options, fmt)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def throughput(engine: Any, batches: list[int], repeats: int) -> list[dict[str, float]]:
    rows = []
    requests = first_turn_requests(max(batches))
    prompts = [engine.prompt(r)[0] for r in requests]
    seeds = [r.seed for r in requests]
    engine.generate_batch(prompts[:2], seeds[:2])  # warm-up
    print(f"\n## tokens/s of one generate call ({engine.options.max_new_tokens} new tokens)")
    print(f"{'batch':>6} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'vs batch 1':>10}")
    base = None
    for size in batches:
        times, tokens = [], 0
        for _ in range(repeats):
            _sync()
            t0 = time.perf_counter()
            out = engine.generate_batch(prompts[:size], seeds[:size])
            _sync()
            times.append(time.perf_counter() - t0)
            tokens = sum(n for _, _, n in out)
        seconds = statistics.median(times)
        rate = tokens / seconds
        base = base or rate
        rows.append(
            {
                "batch": size,
                "tokens": tokens,
                "seconds": seconds,
                "tokens_per_s": rate,
                "speedup": rate / base,
            }
        )
        print(
            f"{size:>6} {tokens:>7} {seconds:>8.3f} {rate:>9.0f} {rate / base:>9.1f}x", flush=True
        )
    return rows


def episodes(engine: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    from chatsim.simulators._hf import HFSimulator

    results = []
    print(f"\n## {args.episodes} episodes x {args.turns} turns, target latency {args.latency:g}s")
    runs: list[tuple[str, Any, float | None]] = [
        (f"batcher max_wait={w:g}", HFSimulator(engine), w) for w in args.max_waits
    ]
    if args.cb:
        from chatsim.simulators._hf_cb import ContinuousHFSimulator

        # On a GPU the manager sizes its paged cache from free memory; on a CPU keep it small.
        small = {"num_blocks": 64, "page_size": 64, "max_batch_tokens": 512}
        cb = ContinuousHFSimulator(engine, cb_config=small if args.smoke_cpu else None)
        runs.append(("continuous batching (transformers)", cb, None))
    for label, sim, max_wait in runs:
        try:
            with UtilisationSampler() as sampler:
                report = anyio.run(run_episodes, sim, args, label, max_wait)
        except Exception as exc:
            print(f"{label}: failed: {exc!r}", flush=True)
            results.append({"label": label, "error": repr(exc)})
            continue
        finally:
            if hasattr(sim, "aclose") and label.startswith("continuous"):
                anyio.run(sim.aclose)
        util = sampler.mean
        print(
            f"{report.row()}   GPU util ({sampler.source}) "
            f"{'n/a' if util is None else f'{util:.0f}%'}",
            flush=True,
        )
        results.append(
            {**dataclasses.asdict(report), "gpu_util_mean": util, "gpu_util_source": sampler.source}
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-waits", type=float, nargs="+", default=[0.0])
    parser.add_argument("--cb", action="store_true", help="also run continuous batching")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--smoke-cpu", action="store_true", help="check the script on a CPU")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available() and not args.smoke_cpu:
        sys.exit("this benchmark needs a CUDA GPU (torch sees none)")
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (smoke check)"
    print(f"# {name}, torch {torch.__version__}", flush=True)
    engine = build_engine(args)
    summary = {
        "device": name,
        "throughput": throughput(engine, args.batches, args.repeats),
        "episodes": episodes(engine, args),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    out = args.json or (Path(os.environ["OUT"]) / "gpu_bench.json" if "OUT" in os.environ else None)
    if out is not None:
        out.write_text(json.dumps(summary, indent=2, default=str))
        print(f"# wrote {out}")


if __name__ == "__main__":
    main()
