"""A report's read path at 10k, 100k and 1M episodes: ``read_sidecar`` cold and warm, and
the ``chatsim report`` / ``chatsim compare`` commands end to end.

    python benchmarks/bench_report_scale.py [--episodes 10000 100000 1000000] [--keep DIR]
        [--spec MODULE:NAME] [--cold-max N] [--commands]

Writes each run with the project's own ``EpisodeWriter``, the sidecar written as the run goes
(``sidecars=(spec,)``). The records are ``bench_records.py``'s realistic episodes (3 exchanges
and the final answer, prompted-user and assistant turns with their attempts and rate-limit
headers, a 429 retried in 1 of 5, a target error in 1 of 20; ~9 kB a line), 200 templates
copied with new ids over 4 models. Then, each in a fresh subprocess, it times ``read_sidecar``
and takes its peak memory (``ru_maxrss``: the whole process, and the growth over the imports):

- ``writer``: the parts the run wrote, plus whatever they miss;
- ``cold``: ``RUN_DIR/sidecars`` deleted first: every record validated and extracted, and the
  parts written (skipped above ``--cold-max`` episodes);
- ``warm``: again, from the parts alone.

``--commands`` then times ``chatsim report RUN_DIR --json`` and ``chatsim compare RUN_DIR``
(its four models paired), each a fresh process: wall and CPU time and the peak RSS
(``wait4``), imports included; the parts are those the run wrote.

``--spec MODULE:NAME`` swaps in another ``SidecarSpec`` (or a function returning one); the
default is the real facts sidecar the runner writes (``chatsim.metrics:facts_sidecar``);
``bench_report_scale:PLACEHOLDER`` is 19 scalar columns and 2 list columns.
Runs are written to a temp folder (or ``--keep DIR``, reused when already there) after a
disk-space check, and deleted at the end unless kept.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from chatsim.config import RunConfig
from chatsim.protocol import Role
from chatsim.recording import (
    EPISODES_FILE,
    SIDECARS_DIR,
    EpisodeRecord,
    EpisodeWriter,
    RunHeader,
    SidecarSpec,
    create_run_dir,
)

sys.path.insert(0, str(Path(__file__).parent))
from bench_records import _episode  # the realistic records of the sibling benchmark

MODELS = ("gpt-4o", "claude-sonnet", "gemini-pro", "llama-70b")
_TEMPLATES = 200

_LOW = pa.dictionary(pa.int32(), pa.string())  # a few distinct values: 4 bytes a row in memory
_SCHEMA = pa.schema(
    [("episode_id", pa.string()), ("model", _LOW), ("simulator", _LOW),
     ("question_id", pa.string()), ("subject", _LOW), ("repeat", pa.int64()),
     ("seed", pa.int64()), ("gold", _LOW), ("final_answer", _LOW),
     ("answer_method", _LOW), ("correct", pa.bool_()), ("termination", _LOW),
     ("user_messages", pa.int64()), ("condition", _LOW), ("duration", pa.float64()),
     ("turns", pa.int64()), ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
     ("retries", pa.int64()), ("reply_seconds", pa.list_(pa.float64())),
     ("first_token_seconds", pa.list_(pa.float64()))]
)  # fmt: skip


def _placeholder_row(r: EpisodeRecord) -> dict[str, Any]:
    replies = [t for t in r.turns if t.role is Role.ASSISTANT]
    usage = [t.usage for t in r.turns if t.usage is not None]
    return {
        "episode_id": r.episode_id, "model": r.model, "simulator": r.simulator,
        "question_id": r.question_id, "subject": r.subject, "repeat": r.repeat, "seed": r.seed,
        "gold": r.gold, "final_answer": r.final_answer, "answer_method": r.answer_method,
        "correct": r.correct, "termination": r.termination.value,
        "user_messages": r.user_messages, "condition": r.condition,
        "duration": r.ended_at - r.started_at, "turns": len(r.turns),
        "prompt_tokens": sum(u.prompt_tokens or 0 for u in usage),
        "completion_tokens": sum(u.completion_tokens or 0 for u in usage),
        "retries": sum(max(0, len(t.attempts) - 1) for t in r.turns),
        "reply_seconds": [t.ended_at - t.started_at for t in replies],
        "first_token_seconds": [
            t.first_token_at - t.started_at for t in replies if t.first_token_at is not None
        ],
    }  # fmt: skip


PLACEHOLDER = SidecarSpec("facts", _SCHEMA, 1, _placeholder_row)
"""A stand-in for the facts extractor: the shape (scalars and per-call lists) of a report's."""


def load_spec(target: str) -> SidecarSpec:
    """``MODULE:NAME``: a ``SidecarSpec``, or a function of no arguments returning one."""
    module, _, name = target.partition(":")
    found = getattr(importlib.import_module(module), name)
    spec = found if isinstance(found, SidecarSpec) else found()
    if not isinstance(spec, SidecarSpec):
        raise SystemExit(f"{target} is not a SidecarSpec (nor a function returning one)")
    return spec


def write_run(run_dir: Path, episodes: int, spec: SidecarSpec) -> None:
    header = RunHeader(
        run_id="bench", created_at=0.0, config=RunConfig(models=MODELS), versions={}, seed=0,
        planned_episodes=episodes,
    )  # fmt: skip
    create_run_dir(run_dir, header)
    templates = [_episode(i, MODELS[0]) for i in range(_TEMPLATES)]
    per_model = -(-episodes // len(MODELS))
    with EpisodeWriter(run_dir / EPISODES_FILE, sidecars=(spec,)) as writer:
        for i in range(episodes):
            model, k = MODELS[i // per_model], i % per_model
            question = f"college_mathematics/{k // 10}"
            writer.append(templates[k % _TEMPLATES].model_copy(update={
                "episode_id": f"{model}|{question}|{k % 10}", "model": model,
                "question_id": question, "repeat": k % 10, "seed": k,
            }))  # fmt: skip


def measure(mode: str, run_dir: Path, target: str) -> dict[str, float]:
    """In the child: one ``load_sidecar`` after its imports (pyarrow included)."""
    from chatsim.recording import load_sidecar
    from chatsim.recording._sidecar_read import load  # noqa: F401  (pyarrow and its IPC reader)

    spec = load_spec(target)
    if mode == "cold":
        shutil.rmtree(run_dir / SIDECARS_DIR, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    read = load_sidecar(run_dir, spec)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": read.table.num_rows, "seconds": seconds, "peak_mb": peak / 1024,
        "growth_mb": (peak - before) / 1024, "parts_read": read.parts_read,
        "records_read": read.records_read, "parts_written": read.parts_written,
    }  # fmt: skip


def _child(mode: str, run_dir: Path, target: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", mode, str(run_dir), "--spec", target],
        check=True, capture_output=True, text=True, env=os.environ,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def command(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system: what a busy box cannot inflate much) and
    peak RSS (MB) of one ``chatsim`` command in its own process."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        child = subprocess.Popen([sys.executable, "-m", "chatsim", *args], stdout=sink)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"chatsim {' '.join(args)} exited {child.returncode}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _check_space(root: Path, episodes: int) -> None:
    need = int(episodes * 9_800 * 1.1)  # a line is ~9.3 kB; the parts add ~1%
    free = shutil.disk_usage(root).free
    if free < need + 2 * 2**30:  # and leave 2 GiB to everyone else
        raise SystemExit(f"{episodes} episodes need ~{need / 2**30:.1f} GiB; {root} has "
                         f"{free / 2**30:.1f} GiB free")  # fmt: skip


def _run_one(root: Path, n: int, args: argparse.Namespace) -> None:
    run_dir = root / f"run-{n}"
    start = time.perf_counter()
    if not (run_dir / EPISODES_FILE).is_file():
        _check_space(root, n)
        write_run(run_dir, n, load_spec(args.spec))
    size = (run_dir / EPISODES_FILE).stat().st_size
    took = time.perf_counter() - start
    print(f"{n} episodes: {size / 2**20:.0f} MiB, {size / n:.0f} B/episode "
          f"(written with the sidecar in {took:.1f} s)", flush=True)  # fmt: skip
    if args.commands:
        for name, argv in (
            ("report", ["report", str(run_dir), "--json"]),
            ("compare", ["compare", str(run_dir)]),
        ):
            seconds, cpu, peak = command(argv)
            print(f"  chatsim {name:8s} {seconds:8.2f} s  (cpu {cpu:6.2f} s)  peak {peak:7.1f} MB",
                  flush=True)  # fmt: skip
    cold = args.cold_max is None or n <= args.cold_max
    modes = ["writer", "cold", "warm"] if cold else ["writer", "warm"]
    for mode in modes:
        r = _child(mode, run_dir, args.spec)
        assert r["rows"] == n, r
        print(f"  {mode:6s} {r['seconds']:8.2f} s  peak {r['peak_mb']:7.1f} MB "
              f"(+{r['growth_mb']:7.1f} over imports)  parts read {r['parts_read']:.0f}, "
              f"records read {r['records_read']:.0f}, parts written {r['parts_written']:.0f}",
              flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them")
    parser.add_argument("--spec", default="chatsim.metrics:facts_sidecar")
    parser.add_argument("--commands", action="store_true", help="time chatsim report/compare")
    parser.add_argument("--cold-max", type=int, help="skip the cold read above this many")
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "RUN_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]), args.spec)))
        return
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for n in args.episodes:
            _run_one(args.keep, n, args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.episodes:
            _run_one(Path(tmp), n, args)
            shutil.rmtree(Path(tmp) / f"run-{n}")  # one run on disk at a time


if __name__ == "__main__":
    main()
