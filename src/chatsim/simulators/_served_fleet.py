"""Several servers of one ``served:`` simulator (vLLM replicas), one episode on one replica.

    chatsim run ... --simulator served:chatbench \\
        --simulator-base-url http://gpu-a:8000/v1,http://gpu-b:8000/v1

``--simulator-base-url`` (``simulator_base_url`` in a config file, or
``$CHATSIM_SIMULATOR_BASE_URL``) takes a comma-separated list; each URL is one replica
serving the same model and adapter. Each replica is a ``ServedSimulator`` of its own, with
its own connection pool, call policy (so a ``--policy simulator.requests_per_minute=...``
budget holds for each replica) and context length read from its own ``GET /models``.
``--simulator-option`` values apply to every replica. The list is not part of the
experiment: a resume may use other replicas (the same model on each, as the user promises).

Placement is ``ReplicaRouter``'s: least-loaded at an episode's first turn, then pinned (see
``_served_router`` for why, and for failover). Each generated turn names its replica
(``UserTurn.replica``, the replica's base URL; the record keeps it in
``extra["simulator_replicas"]``), and a failed turn's error names it too. The per-turn
times, queue time and attempts are the replica's ``ServedSimulator``'s, unchanged.

On Ray, each episode worker builds its own fleet from the run's configuration: each spreads
its own episodes over every replica, so together they spread evenly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatsim._exceptions import ConfigError, SimulatorError, TransientError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim._util._urls import require_http_url
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.simulators._served import ServedSimulator, create_served_simulator, generate_each
from chatsim.simulators._served_router import ReplicaRouter

__all__ = ["ServedFleet", "create_served_fleet", "replica_failed", "split_base_urls"]

_WHAT = "the served simulator's base URL (--simulator-base-url)"


def split_base_urls(text: str) -> list[str]:
    """The replicas' URLs of a comma-separated ``--simulator-base-url``, each checked; a
    repeated one is refused (it would take twice the share of episodes)."""
    urls = [require_http_url(part, _WHAT) for part in text.split(",") if part.strip()]
    if not urls:
        raise ConfigError(f"{_WHAT} is empty; give one URL or several, separated by commas")
    seen = {url.rstrip("/") for url in urls}
    if len(seen) < len(urls):
        raise ConfigError(f"{_WHAT} lists a replica twice: {text!r}; give each server once")
    return urls


def replica_failed(error: BaseException) -> bool:
    """Whether a failed turn says something about its replica (unreachable, 5xx, timeouts,
    with the retries spent) rather than about the prompt (400, 422: any replica would
    refuse it) or the key."""
    cause = error.__cause__
    return isinstance(cause, TransientError)


class ServedFleet(SimulatorBackend):
    """One ``served:`` simulator on several replicas (module doc)."""

    batched = False
    max_batch_size = 1_000_000

    def __init__(
        self,
        replicas: Sequence[ServedSimulator],
        names: Sequence[str],
        *,
        clock: Clock | None = None,
    ) -> None:
        if len(replicas) != len(names) or not replicas:
            raise ValueError("a fleet needs one name per replica, and at least one replica")
        self.replicas = list(replicas)
        self.names = list(names)
        self.spec = replicas[0].spec
        self.router = ReplicaRouter(len(replicas), clock=clock or MonotonicWallClock())

    async def _one(self, request: UserTurnRequest) -> UserTurn:
        index = self.router.acquire(request.episode_id)
        failed: bool | None = None  # cancelled: no news of the replica
        try:
            (turn,) = await self.replicas[index].generate([request])
            failed = False
        except SimulatorError as exc:
            failed = replica_failed(exc)
            raise SimulatorError(
                f"{exc} (replica {self.names[index]})", attempts=exc.attempts
            ) from exc
        finally:
            self.router.release(index, replica_failed=failed)
        turn.replica = self.names[index]
        return turn

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        return await generate_each(self._one, requests)

    def describe_prompt(self, request: UserTurnRequest) -> str:
        return self.replicas[0].describe_prompt(request)

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.aclose()


def create_served_fleet(
    model: str, *, base_urls: Sequence[str], clock: Clock | None = None, **options: Any
) -> ServedFleet:
    """A fleet of ``model`` on each of ``base_urls``: ``create_served_simulator(model,
    base_url=url, **options)`` per replica, named by its URL."""
    clock = clock or MonotonicWallClock()
    replicas = [
        create_served_simulator(model, base_url=url, clock=clock, **options) for url in base_urls
    ]
    return ServedFleet(replicas, [url.rstrip("/") for url in base_urls], clock=clock)
