"""Reaching Ray: the optional import, the ``--ray`` address, connecting and disconnecting.

``ray`` is imported here only, lazily: a run without ``--ray`` never loads it.

A local Ray's workers inherit this process's environment; a cluster's (``auto``,
``ray://``) do not, so ``connect`` hands them, through the job's runtime environment, the
variables the run's adapters declared (``chatsim.targets.reads_environment``) and only
those (none with ``CHATSIM_RAY_FORWARD_ENV=0``). Their names are logged, never their values.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib.util import find_spec
from types import ModuleType
from typing import Any, Final
from urllib.parse import urlsplit

from chatsim._exceptions import ConfigError
from chatsim._logging import get_logger
from chatsim.simulators._served import API_KEY_ENV as SIMULATOR_KEY_VARIABLE
from chatsim.targets import adapter_environment, parse_model_spec

__all__ = [
    "CLIENT_HINT",
    "CONNECT_TIMEOUT",
    "DEFAULT_SCHEDULE_TIMEOUT",
    "FORWARD_VARIABLE",
    "INSTALL_HINT",
    "LOCAL",
    "SCHEDULE_TIMEOUT_VARIABLE",
    "check_address",
    "connect",
    "import_ray",
    "schedule_timeout",
    "worker_environment",
]

INSTALL_HINT = "pip install 'chatsim[ray]'"
CLIENT_HINT = "pip install 'ray[client]'"
LOCAL = "local"
"""``--ray`` alone: start a Ray on this machine, one worker per core."""
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a ``ray://`` head to accept a connection before giving up."""
CLIENT_PORT = 10001
"""Ray Client's port when a ``ray://`` address names none (``ray start --head``'s default)."""
_SERVED_VARIABLES = ("CHATSIM_SIMULATOR_BASE_URL", SIMULATOR_KEY_VARIABLE)
"""What a ``served:`` simulator reads from the environment (``simulators._registry``)."""
FORWARD_VARIABLE = "CHATSIM_RAY_FORWARD_ENV"
"""Set to ``0`` where the cluster's workers have the variables already (a Kubernetes Secret
in every pod): then none travel in the job's runtime env."""
SCHEDULE_TIMEOUT_VARIABLE: Final = "CHATSIM_RAY_SCHEDULE_TIMEOUT"
"""Seconds an actor may wait for Ray to place it (``_placement``)."""
DEFAULT_SCHEDULE_TIMEOUT: Final = 120.0
"""Seconds: long enough for an autoscaler to add a node or a busy node to start a process,
short enough that a request no cluster can meet is not mistaken for a slow start."""
_JOB_CONFIG = "RAY_JOB_CONFIG_JSON_ENV_VAR"
"""Set by Ray in a ``ray job submit`` entrypoint: the job's config, its runtime env inside."""

_log = get_logger("chatsim.distributed")


def import_ray() -> ModuleType:
    """``ray``, or a ``ConfigError`` naming the install command."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            f"--ray needs Ray, which is not installed; install it with: {INSTALL_HINT}"
        ) from exc
    return ray


def schedule_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """The deadline in seconds, from ``CHATSIM_RAY_SCHEDULE_TIMEOUT`` (a positive number)."""
    text = environ.get(SCHEDULE_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_SCHEDULE_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(
            f"{SCHEDULE_TIMEOUT_VARIABLE}={text!r}: give the seconds an actor may wait for Ray "
            f"to place it, a positive number (default {DEFAULT_SCHEDULE_TIMEOUT:g})"
        )
    return seconds


def check_address(address: str, workers: int | None) -> None:
    """Fail before anything is written: a bad address, a bad worker count, a bad
    ``CHATSIM_RAY_SCHEDULE_TIMEOUT``, no Ray, a ``ray://`` head that does not answer."""
    if address not in (LOCAL, "auto") and not address.startswith("ray://"):
        raise ConfigError(
            f"--ray {address!r}: give nothing (a local Ray), 'auto' (the cluster this machine "
            "belongs to) or ray://HOST:PORT"
        )
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    schedule_timeout()
    import_ray()
    if address.startswith("ray://"):
        _check_client(address)


def _check_client(address: str) -> None:
    """A ``ray://`` head must answer within ``CONNECT_TIMEOUT``, and Ray Client be installed:
    Ray itself would retry for a while, or fail only after the run directory exists."""
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port or CLIENT_PORT
    except ValueError:  # a port that is not a number
        host = None
    if not host:
        raise ConfigError(f"--ray {address!r}: give ray://HOST:PORT (Ray Client, port 10001)")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"--ray {address}: nothing answers at {host}:{port} ({reason}). Check the host and "
            f"port of the head's Ray Client server (port {CLIENT_PORT} unless the head was "
            "started with another --ray-client-server-port) and that this machine may reach "
            "it; on a cluster node use --ray auto, or submit the run with ray job submit"
        ) from exc
    if find_spec("grpc") is None:  # what Ray Client needs beyond a plain `pip install ray`
        raise ConfigError(f"--ray ray://... needs Ray Client; install it with: {CLIENT_HINT}")


def worker_environment(
    models: Iterable[str], simulator: str | None, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The variables (set here, non-empty) that the run's targets and simulator read."""
    names: set[str] = set()
    for spec in models:
        names.update(adapter_environment(parse_model_spec(spec).adapter))
    kind, _, rest = (simulator or "").partition(":")
    if kind == "prompted" and rest:
        names.update(adapter_environment(parse_model_spec(rest).adapter))
    elif kind == "served":
        names.update(_SERVED_VARIABLES)
    return {name: environ[name] for name in sorted(names) if environ.get(name)}


def _runtime_env(env_vars: Mapping[str, str]) -> dict[str, Any] | None:
    """The runtime env for ``ray.init``: ``env_vars`` less those a ``ray job submit`` runtime
    env already sets (Ray merges the two and refuses a variable set in both; the job's wins)."""
    if os.environ.get(FORWARD_VARIABLE, "1").strip().lower() in ("0", "false", "no"):
        _log.info("ray workers get no environment variables", why=f"{FORWARD_VARIABLE}=0")
        return None
    job = json.loads(os.environ.get(_JOB_CONFIG) or "{}")
    taken = set((job.get("runtime_env") or {}).get("env_vars") or {})
    mine = {k: v for k, v in env_vars.items() if k not in taken}
    _log.info(
        "ray workers get environment variables",
        variables=sorted(mine),
        from_job=sorted(taken & set(env_vars)),
    )
    return {"env_vars": mine} if mine else None


@contextmanager
def connect(
    address: str, workers: int | None, *, env_vars: Mapping[str, str] | None = None
) -> Iterator[int]:
    """Connect to (or start) Ray; yields how many episode workers to start.

    ``env_vars`` (see ``worker_environment``) reach a cluster's workers; a local Ray's
    inherit this process's environment. A Ray already initialised in this process (a
    notebook, a test session) is used as it is and left running; one this started is shut
    down on the way out.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        if address == LOCAL:
            cores = os.cpu_count() or 1
            # One CPU per worker actor, so a local Ray must have at least as many as asked for.
            ray.init(num_cpus=max(cores, workers or 0), include_dashboard=False)
        else:
            _init_cluster(ray, address, _runtime_env(env_vars or {}))
    try:
        yield workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started:
            ray.shutdown()


def _init_cluster(ray: ModuleType, address: str, runtime_env: dict[str, Any] | None) -> None:
    try:
        ray.init(address=address, runtime_env=runtime_env)
    except ConnectionError as exc:  # `auto` with no cluster on this machine
        raise ConfigError(
            f"--ray {address}: no Ray cluster to join ({exc}). Start one (ray start --head), "
            "set RAY_ADDRESS, give ray://HOST:PORT, or use --ray local"
        ) from exc
