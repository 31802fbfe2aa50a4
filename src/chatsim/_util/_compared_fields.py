"""The set-up fields two compared runs must share, in a module that imports nothing.

``chatsim.metrics`` re-exports them (why each is compared: ``chatsim.metrics._comparable``);
they live here because ``chatsim compare --help`` lists them, and the CLI must not import
the metrics (numpy, pydantic, the records) to start.
"""

from __future__ import annotations

__all__ = ["COMPARED_FIELDS"]

COMPARED_FIELDS: tuple[str, ...] = (
    "kind",
    "simulator",
    "simulator_temperature",
    "simulator_max_tokens",
    "prompt_format",
    "simulator_options",
    "schema_version",
    "condition",
    "max_turns",
    "questions",
    "repeats",
    "seeds",
    "system_prompt",
    "target_temperature",
    "target_max_tokens",
)
"""The set-up fields two compared runs must share (see ``chatsim.metrics._comparable``)."""
