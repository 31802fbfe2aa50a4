"""Judge tests score a real run directory, built once per module as the report tests build it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

# The demo-run builder lives with the report tests, the terse record builders with the metrics'.
sys.path.insert(0, str(Path(__file__).parents[1] / "metrics"))
sys.path.insert(0, str(Path(__file__).parents[1] / "report"))

from demo_run import build_demo_run

from chatsim.targets import unregister_adapter


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two fake assistants, scripted user, 4 questions x 2 repeats, and an AI-alone baseline."""
    out = tmp_path_factory.mktemp("runs")
    try:
        yield anyio.run(lambda: build_demo_run(out, limit=4, repeats=2))
    finally:
        unregister_adapter("fake")
