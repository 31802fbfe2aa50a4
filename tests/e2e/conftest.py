"""End-to-end fixtures: the loopback server playing both the assistant and the prompted user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from e2e_kit import user_and_assistant_script

from chatsim.testing import LoopbackServer


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(user_and_assistant_script()) as srv:
        yield srv
