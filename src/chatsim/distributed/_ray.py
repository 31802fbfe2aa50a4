"""Reaching Ray: the optional import, the ``--ray`` address, connecting and disconnecting.

``ray`` is imported here only, lazily: a run without ``--ray`` never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from chatsim._exceptions import ConfigError

__all__ = ["INSTALL_HINT", "LOCAL", "check_address", "connect", "import_ray"]

INSTALL_HINT = "pip install 'chatsim[ray]'"
LOCAL = "local"
"""``--ray`` alone: start a Ray on this machine, one worker per core."""


def import_ray() -> ModuleType:
    """``ray``, or a ``ConfigError`` naming the install command."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            f"--ray needs Ray, which is not installed; install it with: {INSTALL_HINT}"
        ) from exc
    return ray


def check_address(address: str, workers: int | None) -> None:
    """Fail before anything is written: a bad address, a bad worker count, no Ray."""
    if address not in (LOCAL, "auto") and not address.startswith("ray://"):
        raise ConfigError(
            f"--ray {address!r}: give nothing (a local Ray), 'auto' (the cluster this machine "
            "belongs to) or ray://HOST:PORT"
        )
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    import_ray()


@contextmanager
def connect(address: str, workers: int | None) -> Iterator[int]:
    """Connect to (or start) Ray; yields how many episode workers to start.

    A Ray already initialised in this process (a notebook, a test session) is used as it is
    and left running; one this started is shut down on the way out.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        if address == LOCAL:
            cores = os.cpu_count() or 1
            # One CPU per worker actor, so a local Ray must have at least as many as asked for.
            ray.init(num_cpus=max(cores, workers or 0), include_dashboard=False)
        else:
            ray.init(address=address)
    try:
        yield workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started:
            ray.shutdown()
