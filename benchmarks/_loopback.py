"""Shared by benchmarks: loopback servers in their own process, pinned to their own core."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["loopback_server", "pin_to_core", "server_process"]


def pin_to_core(core: int) -> None:
    """Pin this process to one core, where the OS allows it (Linux)."""
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


@contextmanager
def server_process(argv: Sequence[str], *, core: int = 1) -> Iterator[str]:
    """Start ``python ARGV`` on ``core``; yield the base URL it prints as its first line."""

    def pin() -> None:
        pin_to_core(core)

    proc = subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=pin,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"server did not start: {url!r}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def loopback_server(*args: str, core: int = 1) -> Iterator[str]:
    """Start ``python -m chatsim.testing.server ARGS`` on ``core``; yield its base URL."""
    with server_process(["-m", "chatsim.testing.server", "--port", "0", *args], core=core) as url:
        yield url
