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

from pydantic import BaseModel, ConfigDict

from chatsim.metrics._answers import COPY_THRESHOLD, copies_question
from chatsim.protocol._stated import stated_answer
from chatsim.protocol._types import Role
from chatsim.recording._records import EpisodeRecord

__all__ = ["BehaviourSummary", "EpisodeBehaviour", "behaviour_summary", "episode_behaviour"]


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


def behaviour_summary(
    episodes: Sequence[EpisodeRecord], stems: Mapping[str, str] | None = None
) -> BehaviourSummary:
    """Behaviour over the scored episodes; ``stems`` maps question id -> stem (optional)."""
    scored = [ep for ep in episodes if not ep.termination.is_error]
    stems = stems or {}
    rows = [episode_behaviour(ep, stems.get(ep.question_id)) for ep in scored]
    histogram: dict[int, int] = {}
    for ep in scored:
        histogram[ep.user_messages] = histogram.get(ep.user_messages, 0) + 1
    gold_of = [ep.gold for ep in scored]
    return BehaviourSummary(
        episodes=len(scored),
        turns_histogram=dict(sorted(histogram.items())),
        copy_checked=sum(r.copied_question is not None for r in rows),
        copied_question=sum(r.copied_question is True for r in rows),
        assistant_stated=sum(r.last_stated is not None for r in rows),
        assistant_last_correct=sum(
            r.last_stated is not None and r.last_stated == g
            for r, g in zip(rows, gold_of, strict=True)
        ),
        follow_checked=sum(r.follows is not None for r in rows),
        follows=sum(r.follows is True for r in rows),
        changed=sum(r.changed for r in rows),
        wrong_to_right=sum(r.wrong_to_right for r in rows),
        right_to_wrong=sum(r.right_to_wrong for r in rows),
    )
