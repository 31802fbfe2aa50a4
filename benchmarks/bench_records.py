"""Reading a run's records at scale: what resume (and, later, reports) cost per episode.

    python benchmarks/bench_records.py [--episodes 10000 100000] [--keep DIR]

Writes ``--episodes`` synthetic episode records (``EpisodeRecord``s through ``EpisodeWriter``,
as a run writes them: 3 exchanges and the final answer, assistant and prompted-user turns with
their attempts, rate-limit headers and an occasional 429 retried; 1 in 20 episodes ends in a
target error) into a fresh run directory, then reads it in a fresh subprocess per reader and
reports wall time and peak memory (``ru_maxrss`` after reading minus after imports):

- ``read_run``: every record validated into an ``EpisodeRecord`` (report, compare, and resume
  before the scan);
- ``orjson_keys``: ``orjson.loads`` per line, two keys kept (the "just parse JSON" option);
- ``scan_recorded``: the frame scan resume uses (``chatsim.recording._scan``);
- ``facts``: what reports read, the facts sidecar (``chatsim.metrics.facts_sidecar``; parts
  written on this first read, so this times a cold build; ``bench_report_scale.py`` times the
  warm reads and the commands).

``--keep DIR`` writes the runs there and reuses a run already there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatsim.config import RunConfig
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import (
    EPISODES_FILE,
    AttemptRecord,
    EpisodeRecord,
    EpisodeWriter,
    RunHeader,
    TurnRecord,
    Usage,
    create_run_dir,
)

READERS = ("read_run", "orjson_keys", "scan_recorded", "facts")
_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9987",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-tokens": "1987431",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-reset-tokens": "385ms",
}
_REPLY = (
    "Let's work through this step by step. The function is continuous on the closed interval, "
    "so by the intermediate value theorem it takes every value between f(a) and f(b). "
) * 5


def _attempts(t: float, i: int, retried: bool) -> list[AttemptRecord]:
    ok = AttemptRecord(
        index=int(retried), started_at=t + 0.3 * retried, sent_at=t + 0.301 * retried + 0.001,
        ended_at=t + 1.2, outcome="ok", request_id=f"req_{i:012x}", rate_limit_headers=_HEADERS,
    )  # fmt: skip
    if not retried:
        return [ok]
    failed = AttemptRecord(
        index=0, started_at=t, sent_at=t + 0.001, ended_at=t + 0.05, outcome="rate_limit",
        status_code=429, error_class="RateLimitError", error_message="429 Too Many Requests",
        wait_before_next=0.25, request_id=f"req_{i:012x}r", rate_limit_headers=_HEADERS,
    )  # fmt: skip
    return [failed, ok]


def _turn(index: int, role: Role, text: str, t: float, i: int) -> TurnRecord:
    return TurnRecord(
        index=index, role=role, text=text, requested_at=t, started_at=t + 0.01,
        first_token_at=t + 0.2 if role is Role.ASSISTANT else None,
        max_token_gap=0.04 if role is Role.ASSISTANT else None, ended_at=t + 1.2,
        queue_time=0.01, usage=Usage(prompt_tokens=300 + 40 * index, completion_tokens=180),
        attempts=_attempts(t, i * 10 + index, retried=role is Role.ASSISTANT and i % 5 == 0),
        finish_reason="stop",
    )  # fmt: skip


def _episode(i: int, model: str) -> EpisodeRecord:
    t = 1_700_000_000.0 + i
    turns = []
    for k in range(3):
        turns.append(_turn(2 * k, Role.USER, f"hmm ok but why is option {k} wrong? ({i})", t, i))
        turns.append(_turn(2 * k + 1, Role.ASSISTANT, _REPLY, t + 1.5, i))
    turns.append(_turn(6, Role.USER, "Answer: B", t + 9, i))
    error = i % 20 == 7
    return EpisodeRecord(
        run_id="bench", episode_id=f"{model}|college_mathematics/{i // 10}|{i % 10}",
        model=model, simulator="prompted:gpt-4o-mini",
        question_id=f"college_mathematics/{i // 10}", subject="college_mathematics",
        repeat=i % 10, seed=i, gold="B", turns=turns, final_answer=None if error else "B",
        answer_method="none" if error else "explicit", correct=not error and i % 3 != 0,
        termination=TerminationReason.TARGET_ERROR if error else TerminationReason.ANSWERED,
        user_messages=3, started_at=t, ended_at=t + 10,
        error="retries exhausted" if error else None,
    )  # fmt: skip


def write_run(run_dir: Path, episodes: int) -> None:
    config = RunConfig(models=("gpt-4o",))
    header = RunHeader(
        run_id="bench", created_at=0.0, config=config, versions={}, seed=0,
        planned_episodes=episodes,
    )  # fmt: skip
    create_run_dir(run_dir, header)
    with EpisodeWriter(run_dir / EPISODES_FILE) as writer:
        for i in range(episodes):
            writer.append(_episode(i, "gpt-4o"))


def _read(reader: str, run_dir: Path) -> int:
    """Read ``run_dir`` with ``reader``; the number of episodes it found."""
    if reader == "read_run":
        from chatsim.recording import read_run

        return len(read_run(run_dir).episodes)
    if reader == "orjson_keys":
        import orjson

        ends: dict[str, str] = {}
        with (run_dir / EPISODES_FILE).open("rb") as fh:
            for line in fh:
                obj = orjson.loads(line)
                ends[obj["episode_id"]] = obj["termination"]
        return len(ends)
    if reader == "facts":
        from chatsim.metrics import facts_sidecar
        from chatsim.recording import read_sidecar

        return int(read_sidecar(run_dir, facts_sidecar()).num_rows)
    from chatsim.recording import scan_recorded

    return len(scan_recorded(run_dir).terminations)


def measure(reader: str, run_dir: Path) -> dict[str, float]:
    """Run in the child: time and peak memory of one read, after the imports it needs."""
    import orjson  # noqa: F401  (imported before the baseline, like chatsim's modules)

    import chatsim.recording
    import chatsim.recording._sidecar_read  # noqa: F401  (pyarrow)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    found = _read(reader, run_dir)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"episodes": found, "seconds": seconds, "peak_mb": (after - before) / 1024}


def _child(reader: str, run_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", reader, str(run_dir)],
        check=True, capture_output=True, text=True, env=os.environ,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--readers", nargs="+", default=list(READERS), choices=READERS)
    parser.add_argument("--keep", type=Path, help="write the run directories here and keep them")
    parser.add_argument("--measure", nargs=2, metavar=("READER", "RUN_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for n in args.episodes:
            run_dir = root / f"run-{n}"
            start = time.perf_counter()
            if not (run_dir / EPISODES_FILE).is_file():
                write_run(run_dir, n)
            size = (run_dir / EPISODES_FILE).stat().st_size
            print(
                f"{n} episodes: {size / 2**20:.0f} MiB, {size / n:.0f} B/episode "
                f"(written in {time.perf_counter() - start:.1f} s)"
            )
            for reader in args.readers:
                r = _child(reader, run_dir)
                assert r["episodes"] == n, r
                print(
                    f"  {reader:14s} {r['seconds']:7.2f} s  {1e6 * r['seconds'] / n:6.1f} us/ep  "
                    f"peak +{r['peak_mb']:7.1f} MB  ({1024 * r['peak_mb'] / n:5.2f} kB/ep)"
                )


if __name__ == "__main__":
    main()
