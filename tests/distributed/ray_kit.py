"""Helpers of the Ray tests, in a uniquely named module (a bare ``from conftest import``
resolves to whichever of the suite's conftest modules was imported first)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from chatsim.distributed._simulators import (
    _SETTINGS_FIELDS,
    SimulatorActors,
    launch_simulator_actors,
)
from chatsim.recording import EPISODES_FILE, read_header
from chatsim.runner import prepare_run
from chatsim.simulators._registry import SimulatorSettings


def record_lines(run_dir: Path) -> list[str]:
    """The lines of the run's ``episodes.jsonl`` (none before it exists)."""
    path = run_dir / EPISODES_FILE
    return path.read_text().splitlines() if path.exists() else []


def planned_ids(run_dir: Path) -> set[str]:
    """The run's planned episode ids, planned again from its header (nothing is written)."""
    setup = prepare_run(read_header(run_dir).config, out_dir=run_dir.parent / "replanned")
    return {plan.episode_id for plan in setup.plans}


class RunWorkers:
    """A run's live worker actors (``chatsim:<run id>:...``), found as an operator would: by
    name, in the ``chatsim`` namespace."""

    def names(self, run_id: str) -> list[str]:
        import ray.util

        from chatsim.distributed._driver import NAMESPACE

        prefix = f"chatsim:{run_id}:"
        named = ray.util.list_named_actors(all_namespaces=True)
        found = (a["name"] for a in named if a["namespace"] == NAMESPACE)
        return sorted(name for name in found if name.startswith(prefix))

    async def gone(self, run_id: str) -> bool:
        """Whether the run's actors all go (Ray reaps killed ones in the background); the
        bound is a ceiling, not a timing: a box however busy reaps well within it."""
        with anyio.move_on_after(60):
            while self.names(run_id):  # noqa: ASYNC110 - polls Ray's actor registry
                await anyio.sleep(0.1)
        return not self.names(run_id)


def actor_table() -> dict[str, tuple[str, str]]:
    """Every actor this Ray has known: id -> (class, state). The public state API needs the
    dashboard, which the tests' local Ray does not start; the GCS table does not."""
    from ray._private import state

    table: dict[str, dict[str, Any]] = state.actors()
    return {key: (row["ActorClassName"], row["State"]) for key, row in table.items()}


async def all_dead(ids: set[str]) -> bool:
    """Whether the actors ``ids`` all end (Ray reaps killed ones in the background); the bound
    is a ceiling, not a timing."""
    with anyio.move_on_after(60):
        while any(actor_table()[key][1] != "DEAD" for key in ids):  # noqa: ASYNC110 - polls Ray
            await anyio.sleep(0.1)
    return all(actor_table()[key][1] == "DEAD" for key in ids)


async def one_actor_on_no_cpu(spec: str, settings: Any, **_: Any) -> Any:
    """A stand-in for ``launch_simulator_actors`` on the tests' local Ray, which has no GPU:
    one simulator actor, holding no CPU either (the CPUs go to the workers)."""
    return await launch_simulator_actors(spec, settings, count=1, num_gpus=0, num_cpus=0)


HF_SETTINGS = SimulatorSettings(
    temperature=0.0,
    max_tokens=16,
    options={"context_tokens": 1024, "max_batch_size": 8, "max_wait": 0.05},
)
"""The settings of the package's one ``hf:`` actor (``lent_hf_actors``): the ``hf:`` tests
run with these."""


@dataclass(frozen=True, slots=True)
class LentActors(SimulatorActors):
    """The package's ``hf:`` actor, lent to one run: its driver ends it as it would the
    actors it started, but the actor stays up for the next test (loading the tiny model in a
    fresh actor process costs about 7 s of CPU, much of CI's two cores). ``returns`` holds one
    entry per stop or kill."""

    returns: list[str] = field(default_factory=list)

    async def stop(self) -> None:
        self.returns.append("stop")

    def kill(self) -> None:
        self.returns.append("kill")


class HfLender:
    """Lends the package's ``hf:`` actor to runs in place of ``launch_simulator_actors``."""

    def __init__(self, actors: SimulatorActors) -> None:
        fields = {f.name: getattr(actors, f.name) for f in dataclasses.fields(SimulatorActors)}
        self.actors = LentActors(**fields)

    async def launch(self, spec: str, settings: SimulatorSettings, **_: Any) -> SimulatorActors:
        def built_with(given: SimulatorSettings) -> list[Any]:  # what the actor takes
            return [getattr(given, name) for name in _SETTINGS_FIELDS]

        assert spec == self.actors.spec, spec
        assert built_with(settings) == built_with(HF_SETTINGS), settings
        return self.actors

    @property
    def returned(self) -> bool:
        """Whether the run that borrowed the actor ended it, as its own."""
        return bool(self.actors.returns)
