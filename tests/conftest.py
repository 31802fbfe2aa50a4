"""Shared fixtures. Async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def tiny_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Paths of the tiny base + LoRA (``chatsim.testing``), built once per test session.

    With pytest's cache on, the build is kept there (keyed by the builder's arguments, its
    source and the library versions) and later sessions reuse it; otherwise it lives in the
    session's temporary directory. Tests treat the files as read-only.
    """
    missing = [name for name in ("torch", "transformers", "peft") if find_spec(name) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (chatsim[hf])")
    import torch  # transformers and peft are imported where a test loads the model

    from chatsim.testing import cached_tiny_chatbench

    # CI has two cores and often one is busy: the tiny model's tests gain nothing from a
    # second thread and lose much when that core is taken (see cached_tiny_chatbench).
    torch.set_num_threads(1)

    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("chatsim-tiny") if cache is not None else tmp_path_factory.mktemp("tiny")
    return cached_tiny_chatbench(where)
