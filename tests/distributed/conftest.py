"""One local Ray for this folder's tests (CI has 2 cores), shut down after them so that its
background processes do not load the rest of the suite; the Ray tests skip without ``ray``.

``local_ray`` yields the Ray's GCS address, so that a ``chatsim run --ray auto`` subprocess
(``RAY_ADDRESS`` set to it) joins this Ray instead of starting one of its own (slow on 2
cores)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from ray_kit import HF_SETTINGS, HfLender, RunWorkers, one_actor_on_no_cpu


@pytest.fixture(scope="package")
def local_ray() -> Iterator[str]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def run_workers(local_ray: str) -> RunWorkers:
    """A run's worker actors on the local Ray, by name."""
    return RunWorkers()


@pytest.fixture(scope="package")
def hf_actors(local_ray: str, tiny_model: Any) -> Iterator[Any]:
    """One actor of the session's tiny model, loaded once for this folder's ``hf:`` tests and
    ended after them (``anyio.run``: a package fixture runs outside the tests' event loops)."""
    import ray
    import ray_kit

    actors = anyio.run(one_actor_on_no_cpu, tiny_model.spec, HF_SETTINGS)
    # The lent actors travel to the run's workers, which cannot import this folder's modules.
    ray.cloudpickle.register_pickle_by_value(ray_kit)
    yield actors
    ray.cloudpickle.unregister_pickle_by_value(ray_kit)
    anyio.run(actors.stop)


@pytest.fixture
def lent_hf_actors(hf_actors: Any) -> HfLender:
    """``hf_actors`` lent to one run (``HfLender.launch`` in place of the driver's
    ``launch_simulator_actors``)."""
    return HfLender(hf_actors)
