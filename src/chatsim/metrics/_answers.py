"""The answer an assistant *states* in a reply, and whether a message copies the question.

Assistant replies are long and mention several options ("A is wrong because ..."), so the
user-side parser (``chatsim.protocol.parse_answer``), which gives up on several letters, is not
enough on its own. The rules here look for *statements* and take the last one in the reply
(assistants conclude at the end):

1. ``Answer: X`` at the start of a line; "the (correct/final/best/right) answer is (option) X";
   "X is (the) correct/right"; ``\\boxed{X}``; "option/choice X is correct".
2. Otherwise, the protocol's own parser on the reply's last paragraph (a bold ``**C**``, a
   lone letter, "I'd go with B", ...), where one letter stands out.
3. Otherwise None: the reply stated no answer (a clarifying question, say).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["COPY_THRESHOLD", "copies_question", "question_overlap", "stated_answer"]

_L = r"\(?\*{0,2}([A-D])\*{0,2}\)?(?![A-Za-z0-9'’])"
_STATEMENTS = (
    re.compile(r"(?im)^[\s*#>_]*answer\s*[:：]\s*\**\s*" + _L),
    re.compile(
        r"(?i:\b(?:correct|final|right|best|true)\s+(?:answer|option|choice)\s*"
        r"(?:is|would be|should be|will be|[:=])\s*(?:therefore\s+|thus\s+|probably\s+)?"
        r"(?:option\s+|choice\s+|answer\s+)?\**\s*)" + _L
    ),
    re.compile(
        r"(?i:\b(?:the\s+)?answer\s+(?:is|would be|should be)\s*[:]?\s*"
        r"(?:therefore\s+|thus\s+|probably\s+)?(?:option\s+|choice\s+)?\**\s*)" + _L
    ),
    re.compile(
        r"(?:\b(?i:option|choice)\s+)?" + _L + r"\s*(?i:is\s+(?:the\s+)?(?:correct|right|true))"
    ),
    re.compile(r"\\boxed\{\s*(?:\\text(?:bf)?\{)?\s*\(?([A-D])\)?\s*\}"),
)


def _protocol_fallback() -> Callable[[str], str | None] | None:
    try:  # the protocol's parser, where that package provides it
        from chatsim.protocol import parse_answer
    except ImportError:  # pragma: no cover - only while the protocol package is incomplete
        return None

    def parse(text: str) -> str | None:
        return parse_answer(text).letter

    return parse


def stated_answer(reply: str) -> str | None:
    """The letter A–D the assistant states as its answer in ``reply``, or None."""
    best: tuple[int, str] | None = None
    for pattern in _STATEMENTS:
        for match in pattern.finditer(reply):
            if best is None or match.start() >= best[0]:
                best = (match.start(), match.group(1).upper())
    if best is not None:
        return best[1]
    paragraphs = [p for p in re.split(r"\n\s*\n", reply.strip()) if p.strip()]
    fallback = _protocol_fallback()
    if not paragraphs or fallback is None:
        return None
    return fallback(paragraphs[-1])


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
