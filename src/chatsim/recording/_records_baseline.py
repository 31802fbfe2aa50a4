"""The schema of ``baseline.jsonl``: one ``BaselineRecord`` per AI-alone answer.

Written by ``chatsim.baseline``; kept here, beside the episode schema, so that the owner of the
run directory (its reader and ``chatsim repair``) knows every record it holds without importing
the features that write them.
"""

from __future__ import annotations

from typing import Literal

from chatsim.recording._records import Usage, _Record

__all__ = ["BaselineMode", "BaselineRecord"]

BaselineMode = Literal["zero_shot", "five_shot", "free_text"]
"""``zero_shot``/``five_shot``: the model must answer with a letter only (MMLU-style prompt,
no or five dev examples); ``free_text``: it answers as it likes and the letter is extracted."""


class BaselineRecord(_Record):
    """One AI-alone answer to one question. One line of ``baseline.jsonl``."""

    model: str
    """The target's label."""
    question_id: str
    """The question's id."""
    subject: str
    """The question's subject."""
    mode: BaselineMode
    """How the model was asked."""
    repeat: int
    """0-based repeat of this (model, question, mode)."""
    gold: str
    """The correct letter."""
    answer: str | None
    """The letter extracted from the reply; None when none could be."""
    correct: bool
    """``answer == gold``; False when there is no answer."""
    text: str
    """The reply as received."""
    usage: Usage | None = None
    """Token counts, where known."""
    requested_at: float
    """When the answer was asked for (before any client-side queueing)."""
    started_at: float
    """When the call that counts began."""
    first_token_at: float | None = None
    """When the first token of a streamed reply arrived."""
    ended_at: float
    """When the reply was complete (or the failure observed)."""
    attempts: int = 1
    """How many attempts the call took."""
    error: str | None = None
    """Redacted message when the call failed for good (then ``answer`` is None)."""
