"""Conversation behaviour: turns, copying the question, and following the assistant.

Per scored episode (the user answered), from the assistant's stated answers
(``chatsim.protocol.stated_answer`` on every reply, replies with none skipped):

- ``follows``: the user's final answer equals the assistant's last stated answer;
- ``changed``: the assistant's stated answer changed at least once during the conversation;
- ``wrong_to_right`` / ``right_to_wrong``: its first stated answer was wrong and its last right,
  or the reverse (a change that ends where it began counts as changed but as neither).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatsim.metrics._answers import COPY_THRESHOLD, copies_question
from chatsim.protocol._stated import stated_answer
from chatsim.protocol._types import Role
from chatsim.recording._records import EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = [
    "BehaviourSummary",
    "EpisodeBehaviour",
    "behaviour_facts",
    "behaviour_summary",
    "episode_behaviour",
]


@dataclass(frozen=True, slots=True)
class EpisodeBehaviour:
    """What one conversation did (see the module docstring)."""

    stated: tuple[str | None, ...]
    """The assistant's stated answer per reply (None: it stated none)."""
    copied_question: bool | None
    """The first user message copies the stem; None when the stem is unknown."""
    last_stated: str | None
    follows: bool | None
    """None when the user gave no valid answer or the assistant stated none."""
    changed: bool
    wrong_to_right: bool
    right_to_wrong: bool


class BehaviourSummary(BaseModel):
    """Behaviour over a model's scored episodes."""

    model_config = ConfigDict(frozen=True)

    episodes: int
    """Scored episodes analysed."""
    turns_histogram: dict[int, int]
    """User messages per episode -> episodes."""
    copy_checked: int
    """Episodes whose question stem was known, so copying could be checked."""
    copied_question: int
    """Episodes whose first user message copied the question (overlap >= threshold)."""
    copy_threshold: float = COPY_THRESHOLD
    assistant_stated: int
    """Episodes where the assistant stated an answer at least once."""
    assistant_last_correct: int
    """Episodes whose assistant's last stated answer was the gold letter."""
    follow_checked: int
    """Episodes with both a valid user answer and an assistant statement."""
    follows: int
    changed: int
    wrong_to_right: int
    right_to_wrong: int


def episode_behaviour(ep: EpisodeRecord, stem: str | None = None) -> EpisodeBehaviour:
    """Analyse one episode; ``stem`` is the question text, where known."""
    stated = tuple(stated_answer(t.text) for t in ep.turns if t.role is Role.ASSISTANT)
    given = [s for s in stated if s is not None]
    first_user = next((t.text for t in ep.turns if t.role is Role.USER), None)
    copied = None if stem is None or first_user is None else copies_question(first_user, stem)
    last = given[-1] if given else None
    follows = None if last is None or ep.final_answer is None else ep.final_answer == last
    changed = any(a != b for a, b in pairwise(given))
    return EpisodeBehaviour(
        stated=stated,
        copied_question=copied,
        last_stated=last,
        follows=follows,
        changed=changed,
        wrong_to_right=bool(given) and given[0] != ep.gold and given[-1] == ep.gold,
        right_to_wrong=bool(given) and given[0] == ep.gold and given[-1] != ep.gold,
    )


def behaviour_facts(frame: Frame) -> BehaviourSummary:
    """Behaviour over the scored episodes of ``frame`` (copying as checked when the facts
    were built: only where the stem was known)."""
    scored = frame.where(~frame.values("is_error"))
    turns = scored.values("user_messages")
    found, counts = np.unique(turns, return_counts=True)

    def count(name: str) -> int:
        return int(scored.values(name).sum())

    return BehaviourSummary(
        episodes=len(scored),
        turns_histogram={int(t): int(c) for t, c in zip(found, counts, strict=True)},
        copy_checked=int(scored.valid("copied_question").sum()),
        copied_question=count("copied_question"),
        assistant_stated=int(scored.valid("last_stated").sum()),
        assistant_last_correct=count("last_stated_correct"),
        follow_checked=int(scored.valid("follows").sum()),
        follows=count("follows"),
        changed=count("changed"),
        wrong_to_right=count("wrong_to_right"),
        right_to_wrong=count("right_to_wrong"),
    )


def behaviour_summary(
    episodes: Sequence[EpisodeRecord], stems: Mapping[str, str] | None = None
) -> BehaviourSummary:
    """Behaviour over the scored episodes; ``stems`` maps question id -> stem (optional)."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return behaviour_facts(frame_of(episodes, stems))
