"""One local Ray for this folder's tests (CI has 2 cores), shut down after them so that its
background processes do not load the rest of the suite; the Ray tests skip without ``ray``.

``local_ray`` yields the Ray's GCS address, so that a ``chatsim run --ray auto`` subprocess
(``RAY_ADDRESS`` set to it) joins this Ray instead of starting one of its own (slow on 2
cores)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ray_kit import RunWorkers


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
