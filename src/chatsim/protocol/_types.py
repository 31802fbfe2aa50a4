"""Data of the ChatBench protocol: messages, the simulator's steps, termination reasons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["Message", "ParsedAnswer", "Role", "SimulatorStep", "TerminationReason"]


class Role(StrEnum):
    """Who wrote a message. ``user`` is always the simulated user."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation."""

    role: Role
    content: str


class SimulatorStep(StrEnum):
    """What the simulator is asked to do (DESIGN.md §1)."""

    FIRST = "first"
    """Step 1: write the user's first message to the assistant."""
    NEXT = "next"
    """Step 2: after an assistant reply, end with ``Answer: X`` or write the next message."""
    FORCE_ANSWER = "force_answer"
    """After the last allowed reply: give only the final answer."""
    ALONE = "alone"
    """Answer the question alone, with no assistant: the ``user-alone`` condition, and the
    first phase of ``answer-first``. Like ``FORCE_ANSWER``, every turn is final."""


class TerminationReason(StrEnum):
    """Why an episode ended. Every recorded episode has exactly one."""

    ANSWERED = "answered"
    """The user ended the conversation with a valid ``Answer: X``."""
    FORCED_ANSWER = "forced_answer"
    """The user reached ``max_turns`` and then gave a valid answer when asked for it."""
    INVALID_ANSWER = "invalid_answer"
    """The user's final answer could not be parsed to a letter; counts as incorrect."""
    TARGET_ERROR = "target_error"
    """The assistant failed for good (permanent error, or retries exhausted)."""
    SIMULATOR_ERROR = "simulator_error"
    """The simulated user could not produce a turn."""
    TIMEOUT = "timeout"
    """The per-episode deadline elapsed."""

    @property
    def is_error(self) -> bool:
        """True when the episode did not reach a user answer (valid or not)."""
        return self not in (
            TerminationReason.ANSWERED,
            TerminationReason.FORCED_ANSWER,
            TerminationReason.INVALID_ANSWER,
        )


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """The result of parsing a user's final answer."""

    letter: str | None
    """A–D, or None when nothing could be recovered."""
    method: Literal["explicit", "fallback", "none"]
    """``explicit`` for ``Answer: X``; ``fallback`` when recovered from another form."""
