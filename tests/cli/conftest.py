"""CLI tests run the real typer app in-process against in-process targets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from chatsim.targets import TargetSettings
from chatsim.testing import FakeTarget, registered_adapter


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def fake_adapter() -> Iterator[list[FakeTarget]]:
    """Registers ``fake:<model>``; yields the adapters created, for assertions."""
    made: list[FakeTarget] = []

    def factory(model: str, settings: TargetSettings) -> FakeTarget:
        target = FakeTarget(default="Let me think. The answer is B.")
        made.append(target)
        return target

    with registered_adapter("fake", factory):
        yield made
