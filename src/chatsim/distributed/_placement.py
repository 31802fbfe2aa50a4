"""A deadline for actors that Ray cannot place.

Ray queues an actor that no node can host (no free CPU, no GPU, a custom resource no node
has) without a time limit: an autoscaler may yet add the node. A run would wait forever, so
every actor that chatsim starts (an episode worker, a replacement, an ``hf:`` simulator
actor) must answer its first call within ``CHATSIM_RAY_SCHEDULE_TIMEOUT`` seconds (default
``_ray.DEFAULT_SCHEDULE_TIMEOUT``); past it, ``ActorNotPlaced`` names what the actor asked for
and what the cluster has, in all and free now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from chatsim._exceptions import ChatsimError
from chatsim.distributed._ray import DEFAULT_SCHEDULE_TIMEOUT, SCHEDULE_TIMEOUT_VARIABLE, import_ray

__all__ = ["ActorNotPlaced", "placed"]


class ActorNotPlaced(ChatsimError):
    """Ray did not place an actor within the schedule timeout (see the module doc)."""


def _resources(resources: Mapping[str, float]) -> str:
    # Ray's bookkeeping entries (node:<ip>, memory in bytes, object store) say nothing a
    # user can act on here.
    shown = {
        name: value
        for name, value in sorted(resources.items())
        if not name.startswith("node:") and name not in ("memory", "object_store_memory")
    }
    return "{" + ", ".join(f"{name}: {value:g}" for name, value in shown.items()) + "}"


async def placed(ref: Any, what: str, asked: Mapping[str, float], place_within: float) -> Any:
    """The value of ``ref`` (an actor's first call), or ``ActorNotPlaced`` once ``place_within``
    seconds pass without it. ``asked``: the actor's resources, as given to ``ray.remote``."""
    with anyio.move_on_after(place_within):
        return await ref
    ray = import_ray()
    raise ActorNotPlaced(
        f"Ray did not start {what} within {place_within:g} s: it asks for {_resources(asked)}, and "
        f"the cluster has {_resources(ray.cluster_resources())} in all, "
        f"{_resources(ray.available_resources())} free now. Add nodes with those resources, "
        "ask for fewer (--workers), or wait longer "
        f"({SCHEDULE_TIMEOUT_VARIABLE}=SECONDS, default {DEFAULT_SCHEDULE_TIMEOUT:g})"
    )
