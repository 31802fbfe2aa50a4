"""A run's summary at scale from its facts table: ``summarize_facts`` time and peak memory.

    python benchmarks/bench_summarize.py [--episodes 100000 1000000] [--models 4] [--repeats 10]

1. A real, small run: the loopback server (``--demo``, with 5% 429s and 2% 500s injected)
   plays both the prompted user and two assistants, through ``chatsim.evaluate`` on the
   bundled ``college_math`` questions. Its records become facts (``facts_table``, with the
   question stems).
2. The facts are replicated to each ``--episodes`` size, rows drawn in turn from the real
   ones, with new identities: ``--models`` models, ``--repeats`` repeats per question, so
   ``episodes / (models x repeats)`` questions spread over the five ChatBench subjects, and new
   episode ids and seeds. Written to Parquet (what a facts cache would hold).
3. A fresh subprocess per size reads the Parquet file and runs ``summarize_facts`` twice, with
   the default cluster-bootstrap intervals and with ``--interval se`` (which shows what the
   2000-resample bootstraps over questions cost, as opposed to the columns' aggregation);
   it reports wall and CPU time (on a shared box the wall time counts other processes' turns
   too) and peak resident memory (``ru_maxrss``) growth over the table read.

Figures depend on the machine and its load; they are printed with the command's arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SUBJECTS = ("elementary_mathematics", "high_school_mathematics", "college_mathematics",
            "conceptual_physics", "moral_scenarios")  # fmt: skip


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def seed_facts(tmp: Path) -> pa.Table:
    """The facts of a real scripted run against the loopback server."""
    import chatsim
    from chatsim.metrics import facts_table
    from chatsim.questions import load_questions
    from chatsim.recording import read_run

    server = subprocess.Popen(
        [sys.executable, "-m", "chatsim.testing.server", "--demo", "--seed", "1",
         "--fault", "rate_limit_ms=0.05", "--fault", "server_error=0.02"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with contextlib.redirect_stderr(io.StringIO()):  # the injected faults' retry warnings
            result = asyncio.run(
                chatsim.evaluate(
                    ["vllm:demo-a", "vllm:demo-b"], "college_math", simulator="prompted:vllm:demo",
                    limit=20, repeats=3, out_dir=tmp, base_url=url, simulator_base_url=url,
                )
            )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    run = read_run(result.run_dir)
    stems = {q.id: q.stem for q in load_questions("college_math")}
    return facts_table(run.episodes, stems)


def replicate(seed: pa.Table, episodes: int, models: int, repeats: int) -> pa.Table:
    """``episodes`` rows drawn in turn from ``seed``, with new models, questions, repeats,
    episode ids and seeds (the rest of each row is a real episode's facts)."""
    i = np.arange(episodes, dtype=np.int64)
    table = seed.take(pa.array(i % seed.num_rows))
    model, rest = i % models, i // models
    repeat, question = rest % repeats, rest // repeats
    text = pa.dictionary(pa.int32(), pa.string())

    def labels(prefix: str, codes: np.ndarray[Any, Any], n: int) -> pa.Array:
        values = pa.array([f"{prefix}{k}" for k in range(n)])
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), values)

    n_questions = int(question.max()) + 1
    subject = pa.DictionaryArray.from_arrays(
        pa.array((question % len(SUBJECTS)).astype(np.int32)), pa.array(SUBJECTS)
    )
    new = {
        "episode_id": pa.array([f"e{k}" for k in range(episodes)]),
        "model": labels("openai:model-", model, models),
        "question_id": labels("mmlu/q", question, n_questions),
        "subject": subject,
        "repeat": pa.array(repeat),
        "seed": pa.array(1000 + repeat),
    }
    for name, column in new.items():
        assert column.type in (pa.string(), pa.int64(), text), name
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def measure(path: str) -> dict[str, Any]:
    """In the child: read the facts, then time ``summarize_facts`` both ways."""
    from chatsim.metrics import summarize_facts

    small = pq.read_table(path).slice(0, 1000)
    for interval in ("cluster_bootstrap", "se"):  # imports (scipy for se) and first calls
        summarize_facts(small, interval=interval)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    table = pq.read_table(path)
    read_s, base = time.perf_counter() - t0, _rss_mb()
    out: dict[str, Any] = {"rows": table.num_rows, "table_mb": table.nbytes / 2**20,
                           "read_s": read_s}  # fmt: skip
    for interval in ("cluster_bootstrap", "se"):
        t0, c0 = time.perf_counter(), time.process_time()
        summary = summarize_facts(table, interval=interval)  # type: ignore[arg-type]
        out[interval] = {"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                         "peak_growth_mb": _rss_mb() - base,
                         "questions": summary.overall.questions,
                         "question_rows": len(summary.questions)}  # fmt: skip
    out["process_peak_mb"] = _rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        seed = seed_facts(Path(tmp))
        print(f"seed: {seed.num_rows} real episodes' facts in {time.perf_counter() - t0:.1f} s "
              f"(run + facts_table)")  # fmt: skip
        print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
        for n in args.episodes:
            path = Path(tmp) / f"facts-{n}.parquet"
            pq.write_table(replicate(seed, n, args.models, args.repeats), path)
            child = subprocess.run(
                [sys.executable, __file__, "--measure", str(path)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            r = json.loads(child.stdout.strip().splitlines()[-1])
            boot, se = r["cluster_bootstrap"], r["se"]
            print(
                f"{r['rows']:>9,} episodes, {boot['questions']:,} questions, "
                f"{boot['question_rows']:,} (model, question) rows | table {r['table_mb']:.0f} MB, "
                f"parquet read {r['read_s']:.2f} s | summarize_facts: bootstrap "
                f"{boot['s']:.2f} s wall / {boot['cpu_s']:.2f} s CPU "
                f"(+{boot['peak_growth_mb']:.0f} MB peak), se {se['s']:.2f} s / "
                f"{se['cpu_s']:.2f} s CPU | process peak {r['process_peak_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()
