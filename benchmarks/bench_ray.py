"""Scale-out on Ray: conversations per second and client CPU per call at 1, 2, 4, ... workers,
next to one process without Ray, against the fast loopback server.

    python benchmarks/bench_ray.py                  # 1 and 2 workers, 2,000 conversations a round
    python benchmarks/bench_ray.py --workers 1 2 4 8 16 --conversations 20000 --servers 4

Every round is a real ``chatsim.evaluate`` run: the scripted simulator, one ``vllm:`` target,
records written to a run directory (in a temporary folder). The one-process round runs
``execute_run`` with no Ray about; each Ray round runs ``execute_run_on_ray`` on a fresh local
Ray started before its clock starts (so a round pays for starting its actors, not Ray).

The loopback server runs as ``--servers`` processes sharing one port (``SO_REUSEPORT``: the
kernel spreads the client's connections over them), so that it is not the bottleneck; its CPU
is shown (``server cores``: CPU seconds per wall second, all server processes together), and
a figure near ``--servers`` means the server, not the client, was the limit.

Client CPU is measured across processes with psutil, sampled every 0.2 s (a killed actor keeps
its last sample): the driver (this process), the episode workers (processes whose title names
``EpisodeWorker``), and Ray's own processes (GCS, raylet, agents, idle workers) on their own
line. ``client ms/call`` is driver + workers per target call; ``+ray ms/call`` adds Ray's own.
Two throughputs: ``conv/s`` over the whole round (actor start-up included) and ``steady``
over the middle 80% of the conversations by end time, with CPU over the same window;
``x 1 proc`` compares steady rates. ``first s`` is the time to the first finished conversation
(set-up, actors starting), ``load`` the machine's 1-minute load average after the round: on a
shared machine, read the figures against it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

import chatsim
from chatsim.protocol import Role
from chatsim.recording import read_run

MODEL = "vllm:bench"
REPLY = (
    "Let us work through it. The question asks for the one option that holds; checking "
    "each in turn rules out the others, so the answer is B."
)
"""About 25 streamed chunks (one per word); the scripted user answers after 1 to 3 replies."""
SAMPLE_S = 0.2


# -- the server: --servers processes of chatsim.testing.server on one port ----------------


def _serve(port: int) -> None:
    """This process as one loopback server on ``port``, its listening socket shared with the
    other server processes (``SO_REUSEPORT``)."""

    class _SharedPort(socket.socket):
        def bind(self, address: Any) -> None:
            self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            super().bind(address)

    socket.socket = _SharedPort  # type: ignore[misc]  # only in this server process
    from chatsim.testing import server

    server.main(["--port", str(port), "--reply", REPLY])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def servers(count: int) -> Iterator[tuple[str, list[psutil.Process]]]:
    """``count`` server processes on one port; yields the base URL and their processes."""
    port = _free_port()
    argv = [sys.executable, __file__, "--serve", str(port)]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(count)
    ]
    try:
        urls = {p.stdout.readline().strip() for p in procs if p.stdout is not None}
        if len(urls) != 1 or not next(iter(urls)).startswith("http"):
            raise RuntimeError(f"servers did not start: {urls}")
        yield urls.pop(), [psutil.Process(p.pid) for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


# -- CPU across processes -----------------------------------------------------------------


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU seconds of this process (``driver``) and its descendants (``workers``: titled
    EpisodeWorker; ``ray``: the rest), sampled in a thread; ``exclude`` are not counted."""

    def __init__(self, exclude: Sequence[psutil.Process]) -> None:
        self.me = psutil.Process()
        self.exclude = {p.pid for p in exclude}
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.series: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> CpuMeter:
        self._sample()
        self.base = dict(self.last)  # processes already running count from here
        self.series.clear()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def _sample(self) -> None:
        procs = [self.me]
        with suppress(psutil.Error):
            procs += self.me.children(recursive=True)
        for proc in procs:
            if proc.pid in self.exclude:
                continue
            try:
                self.last[proc.pid] = _cpu(proc)
                if proc.pid == self.me.pid:
                    self.kind[proc.pid] = "driver"
                elif "EpisodeWorker" in " ".join(proc.cmdline()):
                    self.kind[proc.pid] = "workers"
                else:
                    self.kind.setdefault(proc.pid, "ray")
            except psutil.Error:
                continue  # ended between listing and reading: its last sample stands
        self.series.append((time.time(), self.totals()))

    def totals(self) -> dict[str, float]:
        out = {"driver": 0.0, "workers": 0.0, "ray": 0.0}
        for pid, cpu in self.last.items():
            out[self.kind.get(pid, "ray")] += cpu - self.base.get(pid, 0.0)
        return out

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU spent from ``start`` to ``end`` (epoch seconds), from the nearest samples."""

        def at(t: float) -> dict[str, float]:
            before = [totals for when, totals in self.series if when <= t]
            return before[-1] if before else self.series[0][1]

        a, b = at(start), at(end)
        return {k: b[k] - a[k] for k in a}


# -- one round ----------------------------------------------------------------------------


@dataclass
class Row:
    mode: str
    workers: int
    conversations: int
    calls: int
    wall_s: float
    conv_per_s: float
    steady_conv_per_s: float
    client_ms_per_call: float
    steady_client_ms_per_call: float
    ray_ms_per_call: float
    server_cores: float
    first_s: float
    load: float
    driver_cpu_s: float
    workers_cpu_s: float
    ray_cpu_s: float


def _steady_window(ends: list[float]) -> tuple[float, float, int]:
    """The middle 80% of the conversations by end time: (start, end, conversations)."""
    ends = sorted(ends)
    lo, hi = int(len(ends) * 0.1), int(len(ends) * 0.9) - 1
    return ends[lo], ends[hi], hi - lo


async def one_round(
    args: argparse.Namespace, url: str, srv: list[psutil.Process], workers: int | None
) -> Row:
    questions, repeats = _sizes(args.conversations)
    per_worker = args.concurrency
    options: dict[str, Any] = {
        "model": MODEL,
        "base_url": url,
        "simulator": "scripted",
        "subset": "chatbench",
        "selection": "all",
        "limit": questions,
        "repeats": repeats,
        "concurrency": per_worker * (workers or 1),  # each Ray worker takes an even share
    }
    if workers is not None:
        options.update(ray="local", workers=workers)
    server_before = sum(_cpu(p) for p in srv)
    with tempfile.TemporaryDirectory() as out, CpuMeter(srv) as meter:
        started, epoch = time.perf_counter(), time.time()
        result = await chatsim.evaluate(**options, out_dir=out, run_id="bench")
        wall = time.perf_counter() - started
        episodes = read_run(result.run_dir).episodes
    server_cores = (sum(_cpu(p) for p in srv) - server_before) / wall
    calls = sum(len(t.attempts) for e in episodes for t in e.turns if t.role is Role.ASSISTANT)
    cpu = meter.totals()
    start, end, steady_n = _steady_window([e.ended_at for e in episodes])
    window = meter.between(start, end)
    per_conv = calls / len(episodes)
    client = cpu["driver"] + cpu["workers"]
    return Row(
        mode="one process" if workers is None else "ray",
        workers=workers or 1,
        conversations=len(episodes),
        calls=calls,
        wall_s=round(wall, 2),
        conv_per_s=round(len(episodes) / wall, 1),
        steady_conv_per_s=round(steady_n / (end - start), 1),
        client_ms_per_call=round(1000 * client / calls, 3),
        steady_client_ms_per_call=round(
            1000 * (window["driver"] + window["workers"]) / (steady_n * per_conv), 3
        ),
        ray_ms_per_call=round(1000 * cpu["ray"] / calls, 3),
        server_cores=round(server_cores, 2),
        first_s=round(min(e.ended_at for e in episodes) - epoch, 2),
        load=round(os.getloadavg()[0], 1),
        driver_cpu_s=round(cpu["driver"], 2),
        workers_cpu_s=round(cpu["workers"], 2),
        ray_cpu_s=round(cpu["ray"], 2),
    )


def _sizes(conversations: int) -> tuple[int, int]:
    """Questions and repeats for about ``conversations`` conversations (the five ChatBench
    subjects, every question: 1,000-odd)."""
    questions = min(conversations, 1000)
    return questions, math.ceil(conversations / questions)


# -- the table ----------------------------------------------------------------------------

COLUMNS = (
    ("mode", "mode", 11),
    ("workers", "workers", 7),
    ("conversations", "conv", 6),
    ("calls", "calls", 6),
    ("wall_s", "wall s", 7),
    ("conv_per_s", "conv/s", 7),
    ("steady_conv_per_s", "steady", 7),
    ("speedup", "x 1 proc", 8),
    ("client_ms_per_call", "client ms/call", 14),
    ("steady_client_ms_per_call", "steady ms/call", 14),
    ("ray_ms_per_call", "+ray ms/call", 12),
    ("server_cores", "server cores", 12),
    ("first_s", "first s", 7),
    ("load", "load", 5),
)


def render(rows: list[Row]) -> str:
    base = rows[0].steady_conv_per_s
    lines = ["  ".join(f"{title:>{width}}" for _, title, width in COLUMNS)]
    for row in rows:
        values = {**asdict(row), "speedup": f"{row.steady_conv_per_s / base:.2f}"}
        lines.append("  ".join(f"{values[key]!s:>{width}}" for key, _, width in COLUMNS))
    return "\n".join(lines)


@contextmanager
def _local_ray(workers: int | None) -> Iterator[None]:
    """A fresh local Ray for a Ray round (started before the clock, stopped after it); none
    for the one-process round, which runs with no Ray processes about."""
    if workers is None:
        yield
        return
    import ray

    # One CPU per worker actor, so at least as many as asked for.
    ray.init(
        num_cpus=max(os.cpu_count() or 1, workers), include_dashboard=False, log_to_driver=False
    )
    try:
        yield
    finally:
        ray.shutdown()


async def main(args: argparse.Namespace) -> list[Row]:
    """``--rounds`` passes over every configuration, in turn (so a burst of other load on the
    machine hits one round, not one configuration); per configuration, the round with the
    best steady rate is kept (the least disturbed)."""
    configs: list[int | None] = [None, *args.workers]
    rounds: dict[int | None, list[Row]] = {c: [] for c in configs}
    with servers(args.servers) as (url, srv):
        for n in range(args.rounds):
            for workers in configs:
                with _local_ray(workers):
                    row = await one_round(args, url, srv, workers)
                rounds[workers].append(row)
                print(f"round {n + 1}: {json.dumps(asdict(row))}", file=sys.stderr, flush=True)
    return [max(rows, key=lambda r: r.steady_conv_per_s) for rows in rounds.values()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts")
    p.add_argument("--conversations", type=int, default=2000, help="per round")
    p.add_argument("--concurrency", type=int, default=64, help="target calls in flight per worker")
    p.add_argument(
        "--servers",
        type=int,
        default=max(1, (os.cpu_count() or 1) // 4),
        help="loopback server processes (default: a quarter of the cores, at least one)",
    )
    p.add_argument("--rounds", type=int, default=1, help="passes; the best of each is shown")
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # a server process (internal)
    return p.parse_args(argv)


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.serve is not None:
        _serve(parsed.serve)
        sys.exit(0)
    print(
        f"{os.cpu_count()} cores, {parsed.servers} server process(es), "
        f"{parsed.conversations} conversations per round, {parsed.concurrency} calls in "
        "flight per worker",
        flush=True,
    )
    table = asyncio.run(main(parsed))
    print(render(table))
    if parsed.json is not None:
        parsed.json.write_text(json.dumps([asdict(r) for r in table], indent=2))
