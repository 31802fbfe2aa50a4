"""The answer an assistant *states* in a reply: the assistant-side twin of ``parse_answer``.

Assistant replies are long and mention several options ("A is wrong because ..."), so the
user-side parser (``parse_answer``), which gives up on several letters, is not enough on its
own. The rules here look for *statements* and take the last one in the reply (assistants
conclude at the end):

1. ``Answer: X`` at the start of a line; "the (correct/final/best/right) answer is (option) X";
   "X is (the) correct/right"; ``\\boxed{X}``; "option/choice X is correct".
2. Otherwise, ``parse_answer`` on the reply's last paragraph (a bold ``**C**``, a lone letter,
   "I'd go with B", ...), where one letter stands out.
3. Otherwise None: the reply stated no answer (a clarifying question, say).

It lives in the protocol, not in metrics, because both metrics (behaviour) and the AI-alone
baseline (free-text answers) read it, and neither should depend on the other for it.
"""

from __future__ import annotations

import re

from chatsim.protocol._parse import could_match, parse_answer

__all__ = ["stated_answer"]

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

_STATEMENT_WORDS: tuple[tuple[str, ...], ...] = (
    ("answer",),
    ("answer", "option", "choice"),
    ("answer",),
    ("correct", "right", "true"),
    ("\\boxed",),
)
"""Per statement pattern, words one of which every match contains (lower case)."""


def stated_answer(reply: str) -> str | None:
    """The letter A–D the assistant states as its answer in ``reply``, or None."""
    best: tuple[int, str] | None = None
    lowered = reply.lower()
    for pattern, words in zip(_STATEMENTS, _STATEMENT_WORDS, strict=True):
        if not could_match(words, lowered):
            continue  # it cannot match: skip the scan (``_parse._FALLBACK_WORDS``)
        for match in pattern.finditer(reply):
            if best is None or match.start() >= best[0]:
                best = (match.start(), match.group(1).upper())
    if best is not None:
        return best[1]
    paragraphs = [p for p in re.split(r"\n\s*\n", reply.strip()) if p.strip()]
    if not paragraphs:
        return None
    return parse_answer(paragraphs[-1]).letter
