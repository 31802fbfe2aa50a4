"""Fixtures for the loopback server's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A bare aiohttp client, to see exactly what the server sends."""
    async with aiohttp.ClientSession() as session:
        yield session
