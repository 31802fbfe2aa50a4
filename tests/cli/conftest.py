"""CLI tests run the real typer app in-process against in-process targets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from chatsim.targets import TargetSettings, register_adapter
from chatsim.targets._registry import _overrides
from chatsim.testing import FakeTarget


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

    register_adapter("fake", factory)
    yield made
    _overrides.pop("fake", None)
