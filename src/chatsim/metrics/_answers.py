"""Whether a message copies the question (the first user message against the stem).

The answer an assistant states in a reply, ``stated_answer``, lives in the protocol
(``chatsim.protocol.stated_answer``): the AI-alone baseline reads it too.
"""

from __future__ import annotations

import re

__all__ = ["COPY_THRESHOLD", "copies_question", "question_overlap"]

_WORD = re.compile(r"[a-z0-9]+")

#: Share of the stem's distinct words that the first user message must contain to count as a copy.
COPY_THRESHOLD = 0.8


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def question_overlap(message: str, stem: str) -> float:
    """Share of the stem's distinct (lower-cased, alphanumeric) words found in ``message``.

    Containment rather than Jaccard: a user who pastes the stem *and* the options, or wraps
    it in "can you help me with this?", still copied it.
    """
    stem_words = _words(stem)
    if not stem_words:
        return 0.0
    return len(stem_words & _words(message)) / len(stem_words)


def copies_question(message: str, stem: str, threshold: float = COPY_THRESHOLD) -> bool:
    """Whether ``message`` copies the question: ``question_overlap >= threshold`` (0.8)."""
    return question_overlap(message, stem) >= threshold
