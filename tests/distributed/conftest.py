"""One local Ray for this folder's tests (CI has 2 cores), shut down after them so that its
background processes do not load the rest of the suite; the Ray tests skip without ``ray``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="package")
def local_ray() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
