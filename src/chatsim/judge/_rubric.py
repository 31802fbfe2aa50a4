"""What the judge is asked: the rubric, the messages it reads, and how its reply is parsed.

Pure functions, no I/O: the rubric is data (versioned, so that scores from different rubrics
are never averaged unawares), and parsing is tolerant of a reply that wraps its JSON in prose or
a code fence, but never guesses a score that is not there.
"""

from __future__ import annotations

import json
import re

from chatsim.protocol import Message, Role
from chatsim.recording._records import EpisodeRecord

__all__ = ["RUBRIC", "RUBRIC_VERSION", "judge_messages", "parse_scores"]

RUBRIC_VERSION = "chatsim-judge-v1"
RUBRIC = """\
You are grading a conversation between a USER and an AI ASSISTANT. The user was working on a
multiple-choice question and talked to the assistant to answer it. Grade the ASSISTANT only.

Coherence (1-5): is each assistant reply clear, logically consistent, on topic, and
consistent with its earlier replies (changing its answer is fine when it explains why)?
  5 = clear and consistent throughout; 4 = minor lapses; 3 = some confusing or inconsistent
  replies; 2 = often confusing, contradicts itself without explanation; 1 = incoherent.

User satisfaction (1-5): how satisfied would this user plausibly be with the help received,
judged from the conversation (did the assistant address what the user asked, at the right
level of detail, without needless padding)? Do not judge whether the final answer is correct.
  5 = fully helped; 4 = mostly; 3 = partly; 2 = little; 1 = not at all or counterproductive.

Reply with one JSON object and nothing else:
{"coherence": <1-5>, "satisfaction": <1-5>, "rationale": "<one or two sentences>"}"""

_JSON = re.compile(r"\{.*\}", re.DOTALL)


def parse_scores(text: str) -> tuple[int, int, str] | None:
    """(coherence, satisfaction, rationale) from a judge reply, or None when not valid."""
    match = _JSON.search(text)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
        scores = (int(data["coherence"]), int(data["satisfaction"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not all(1 <= s <= 5 for s in scores):
        return None
    return scores[0], scores[1], str(data.get("rationale", ""))


def judge_messages(ep: EpisodeRecord) -> tuple[Message, ...]:
    """The rubric as system prompt and the transcript as the user message."""
    lines = [f"{t.role.value.upper()}: {t.text}" for t in ep.turns]
    transcript = "\n\n".join(lines) or "(empty conversation)"
    return (Message(Role.SYSTEM, RUBRIC), Message(Role.USER, f"CONVERSATION:\n\n{transcript}"))
