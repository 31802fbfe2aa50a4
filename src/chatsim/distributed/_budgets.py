"""A Ray worker's share of the run's budgets, so that the workers together keep to them.

What a worker shares among the live workers (``share_policy``, ``concurrency_share``):

- every target's ``--concurrency``, ``--rpm`` and ``--tpm``;
- a simulator's own endpoint (``prompted:`` on its own URL, and ``served:``, whose callers
  it builds itself, one per replica): its rpm and tpm always; its call slots only when the
  user set them (``--policy simulator.max_concurrency=N``). The default slots are sized from
  the episodes in flight, which already bound the simulator's calls, as in one process;
- the user's ``--episodes-in-flight``, split like call slots (at least one each).

This module does not import ``ray``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chatsim.config import RunConfig
from chatsim.runner._prepare import SIMULATOR_POLICY_PREFIX
from chatsim.simulators import SimulatorBackend
from chatsim.simulators._served import ServedSimulator
from chatsim.simulators._served_fleet import ServedFleet
from chatsim.targets import CallerPool, CallPolicy, TargetCaller

__all__ = [
    "CallerShares",
    "concurrency_share",
    "share_policy",
    "shared_budgets",
    "simulator_callers",
    "simulator_slots_set",
    "worker_count",
]


def concurrency_share(budget: int, workers: int, rank: int) -> int:
    """The calls in flight of worker ``rank`` (0 to ``workers`` - 1) of ``workers``: the first
    ``budget % workers`` take one more, so that the shares add up to ``budget`` exactly (with
    more workers than ``budget``, each still gets one: the drivers start no more than that,
    ``worker_count``). When a worker leaves and the others close ranks, no share shrinks, so
    that the shares never add up to more than ``budget`` while some are not yet re-shared."""
    return max(1, budget // workers + (rank < budget % workers))


def share_policy(
    policy: CallPolicy, workers: int, *, rank: int = 0, concurrency: bool = True
) -> CallPolicy:
    """Worker ``rank``'s share of each target's budget (``--concurrency``, ``--rpm``,
    ``--tpm``), so that ``workers`` of them together keep to it (``concurrency_share``).

    ``concurrency=False`` shares the quotas only (rpm, tpm): a simulator's own endpoint whose
    call slots the user left to their default (sized from the episodes in flight, which
    already bound its calls, as in one process)."""
    if workers <= 1:
        return policy
    rpm, tpm = policy.requests_per_minute, policy.tokens_per_minute
    update: dict[str, object] = {
        "requests_per_minute": None if rpm is None else rpm / workers,
        "tokens_per_minute": None if tpm is None else tpm / workers,
    }
    if concurrency:
        slots = concurrency_share(policy.max_concurrency, workers, rank)
        update |= {"max_concurrency": slots, "min_concurrency": min(policy.min_concurrency, slots)}
    return policy.model_copy(update=update)


def worker_count(wanted: int, budgets: Iterable[int]) -> int:
    """Workers to start: ``wanted``, but no more than the smallest concurrency budget among
    ``budgets`` (the targets' ``max_concurrency``): a worker below one call in flight of a
    target could not run its episodes, and one more than the budget allows is over it."""
    return max(1, min([wanted, *budgets]))


def simulator_slots_set(config: RunConfig) -> bool:
    """Whether the user set the call slots of the simulator's own endpoint (``--policy
    simulator.max_concurrency=N``, a ``served:`` or ``prompted:`` simulator; the others
    have no endpoint): then the workers share them."""
    has_endpoint = config.simulator.startswith(("served:", "prompted:"))
    return has_endpoint and f"{SIMULATOR_POLICY_PREFIX}max_concurrency" in config.policy


def shared_budgets(config: RunConfig) -> list[int]:
    """The user's budgets besides the targets' concurrency that every worker takes a share
    of, by rank: the simulator endpoint's call slots and the episodes in flight, where set.
    With more workers than one of these, each would still take one (``concurrency_share``),
    so ``worker_count`` should count them too."""
    found = []
    if simulator_slots_set(config):
        found.append(int(config.policy[f"{SIMULATOR_POLICY_PREFIX}max_concurrency"]))
    if config.max_episodes_in_flight is not None:
        found.append(config.max_episodes_in_flight)
    return found


def simulator_callers(simulator: SimulatorBackend) -> tuple[TargetCaller, ...]:
    """The callers a simulator built for itself, outside the worker's ``CallerPool``: a
    ``served:`` simulator's (one per replica of a fleet)."""
    if isinstance(simulator, ServedFleet):
        return tuple(replica.caller for replica in simulator.replicas)
    if isinstance(simulator, ServedSimulator):
        return (simulator.caller,)
    return ()


@dataclass(frozen=True, slots=True)
class _Shared:
    caller: TargetCaller
    whole: CallPolicy
    """The run's whole budget for this caller: each re-share divides it, not a share."""
    slots: bool
    """Whether its call slots are shared too (not only rpm and tpm)."""


class CallerShares:
    """Every caller a worker holds, each with the run's whole budget, re-shaped in place to
    the worker's share as the live workers change (module doc)."""

    def __init__(
        self,
        pool: CallerPool,
        targets: Iterable[TargetCaller],
        simulator: SimulatorBackend,
        *,
        simulator_slots: bool,
    ) -> None:
        """``pool``: the worker's callers (targets, a prompted simulator's own endpoint);
        ``targets``: those of the targets (a prompted simulator on a target's deployment
        shares its caller, and so its budget); ``simulator``: for the callers it built
        itself; ``simulator_slots``: whether the simulator's own call slots are shared."""
        own = set(targets)
        callers = [caller for _, caller in pool]
        callers += [c for c in simulator_callers(simulator) if c not in callers]
        self._shared = [
            _Shared(caller, caller.policy, caller in own or simulator_slots) for caller in callers
        ]

    def reshape(self, live: int, rank: int) -> None:
        """Take the ``rank``-th share among ``live`` workers (the adaptive limits and the
        buckets keep their state)."""
        for shared in self._shared:
            share = share_policy(shared.whole, live, rank=rank, concurrency=shared.slots)
            shared.caller.reshape(share)
