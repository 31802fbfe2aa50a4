"""Parsing of repeatable ``KEY=VALUE`` options, shared by ``run`` and ``loadtest``."""

from __future__ import annotations

import json
from typing import Any

from chatsim._exceptions import ConfigError

__all__ = ["key_values"]


def key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON where they parse (numbers, true, ...)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: use KEY=VALUE, e.g. {flag} name=10")
        try:
            found[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            found[key.strip()] = raw
    return found
