"""An adapter registered for the length of a ``with`` block (tests, notebooks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatsim.targets import register_adapter, unregister_adapter
from chatsim.targets._registry import AdapterFactory

__all__ = ["registered_adapter"]


@contextmanager
def registered_adapter(name: str, factory: AdapterFactory) -> Iterator[None]:
    """Register ``factory`` as adapter ``name`` inside the block; afterwards, even on an
    error, restore what was registered under ``name`` before (or nothing)."""
    previous = register_adapter(name, factory)
    try:
        yield
    finally:
        if previous is None:
            unregister_adapter(name)
        else:
            register_adapter(name, previous)
