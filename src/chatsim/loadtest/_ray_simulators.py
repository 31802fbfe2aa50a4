"""The ``hf:`` simulator of a load test on Ray: the GPU actors of ``run --ray``, one per GPU.

The driver places them before the run directory exists, starts the load workers while the
models load, and waits for the models before creating it: a cluster without GPUs, or a model
that fails to load, leaves nothing behind. The driver does not load the model itself; every
load worker calls the actors (``SimulatorActors.client``: one actor call per user turn, a
conversation pinned to one actor); they are stopped however the load test ends, error and
Ctrl-C included. Each actor holds ``SIMULATOR_CPUS`` of the cluster's CPUs; without
``--workers`` the load workers take the rest (one per CPU), so that none waits forever for a
CPU the actors hold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from chatsim._logging import get_logger
from chatsim.config import LoadTestConfig
from chatsim.distributed._simulators import SimulatorActors, launch_simulator_actors
from chatsim.distributed._slots import SIMULATOR_CPUS, workers_beside
from chatsim.loadtest._setup import load_simulator_settings
from chatsim.simulators._registry import runs_on_actors

__all__ = ["SIMULATOR_CPUS", "free_workers", "simulator_actors"]

_log = get_logger("chatsim.loadtest")


@asynccontextmanager
async def simulator_actors(
    config: LoadTestConfig, place_within: float
) -> AsyncIterator[SimulatorActors | None]:
    """The ``hf:`` simulator's GPU actors for the load test's life (None for other simulators),
    each placed within ``place_within`` seconds or ``ActorNotPlaced``, their models loading
    (``SimulatorActors.loaded``); stopped however it ends (the stop is shielded: a Ctrl-C
    must not leave models on GPUs)."""
    if not runs_on_actors(config.simulator):
        yield None
        return
    settings = load_simulator_settings(config)
    actors = await launch_simulator_actors(
        config.simulator, settings, num_cpus=SIMULATOR_CPUS, place_within=place_within
    )
    _log.info("simulator actors placed", actors=list(actors.names))
    try:
        yield actors
    finally:
        with anyio.CancelScope(shield=True):
            await actors.stop()


def free_workers(cpus: int, actors: SimulatorActors | None) -> int:
    """Load workers for the CPUs the simulator actors left (at least one), as ``run --ray``."""
    return max(1, cpus) if actors is None else workers_beside(cpus, len(actors.handles))
