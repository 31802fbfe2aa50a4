"""Answer parsing: the one function that turns a user's final text into a letter.

Rules, in order:

1. Clean: strip whitespace, surrounding quotes, and markdown/LaTeX markup (``*``, ``` ` ```,
   ``__``, ``$``, leading ``#``/``>``).
2. Explicit: a line that *starts with* ``Answer:`` (any case, spaces around the colon allowed)
   followed by a letter, optionally in parentheses and followed by punctuation or text:
   ``Answer: B``, ``answer: (b)``, ``**Answer: B**``, ``Answer: B. 42``. If all such lines
   agree on one letter A–D, the result is ``explicit``. Different letters, ``Answer: B or C``,
   or ``Answer: E`` give ``none``: the user stated an answer we cannot score.
3. Fallback (no explicit line): collect letters from looser forms -- a lone letter (``B``,
   ``(B)``, ``B.``), a leading ``B.``/``B)``, a bold letter (``**B**``), ``\\boxed{B}``, an
   uppercase ``(C)``, "the (correct/final) answer is C", "I'll go with B", "I choose B",
   "option D" / "choice D". Phrase forms need an uppercase letter ("the answer is a number"
   is not A). One distinct letter -> ``fallback``; several or none -> ``none``.
"""

from __future__ import annotations

import re

from chatsim.protocol._types import ParsedAnswer

__all__ = ["is_answer_statement", "parse_answer", "strip_markup"]

_QUOTES = "\"'`“”‘’«»"
_EXPLICIT_LINE = re.compile(r"^answer\s*[:：]", re.IGNORECASE)
_EXPLICIT = re.compile(
    r"^answer\s*[:：]\s*(?:\(\s*([a-z])\s*\)|\[\s*([a-z])\s*\]|([a-z])(?![a-z0-9]))"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(r"^\s*(?:or|and|/|,|&)\s*\(?[a-d]\b", re.IGNORECASE)
_LETTER = r"\(?\s*([A-D])(?![A-Za-z0-9'’])"
_FALLBACKS = (
    re.compile(r"^\(?([A-Da-d])\)?[.):]?$"),  # the whole text is a letter
    re.compile(r"^\(?([A-D])[.)]\s"),  # starts "B. ..." or "B) ..."
    re.compile(r"\*\*\s*\(?([A-D])\)?[.):]?\s*\*\*"),  # **B**
    re.compile(r"\\boxed\{\s*(?:\\text(?:bf)?\{)?\s*\(?([A-D])\)?\s*\}"),  # \boxed{B}
    re.compile(r"(?<![A-Za-z0-9])\(([A-D])\)"),  # (C)
    re.compile(
        r"(?i:\b(?:correct|final|right|best|my)?\s*answer\s*(?:is|would be|should be|will be|"
        r"[:=])\s*(?:probably\s+|likely\s+)?(?:option\s+|choice\s+|letter\s+)?)" + _LETTER
    ),
    re.compile(
        r"(?i:\b(?:go|going|went|stick|sticking)\s+with\s+(?:option\s+|choice\s+|answer\s+)?)"
        + _LETTER
    ),
    re.compile(
        r"(?i:\b(?:choose|chose|pick|picked|select|selected)\s+(?:option\s+|choice\s+|answer\s+)?)"
        + _LETTER
    ),
    re.compile(r"(?i:\b(?:option|choice)\s+)" + _LETTER),
)


def strip_markup(text: str) -> str:
    """Whitespace, surrounding quotes and markdown/LaTeX emphasis removed."""
    text = text.strip()
    for _ in range(3):  # nested quoting such as "'B'"
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
            text = text[1:-1].strip()
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"[*`$]", "", text)
    lines = [re.sub(r"^\s*(?:#+|>+)\s*", "", line).strip() for line in text.splitlines()]
    return "\n".join(lines).strip().strip(_QUOTES).strip()


def is_answer_statement(text: str) -> bool:
    """True when the text, markup stripped, begins with ``Answer:``."""
    return bool(_EXPLICIT_LINE.match(strip_markup(text)))


def _explicit(clean: str) -> ParsedAnswer | None:
    """The explicit result, or None when no line starts with ``Answer:``."""
    found: set[str | None] = set()
    for line in clean.splitlines():
        if not _EXPLICIT_LINE.match(line):
            continue
        match = _EXPLICIT.match(line)
        if match is None or _ALTERNATIVE.match(match.group("rest")):
            found.add(None)
            continue
        letter = next(g for g in match.groups()[:3] if g is not None).upper()
        found.add(letter if letter in "ABCD" else None)
    if not found:
        return None
    if len(found) == 1 and None not in found:
        return ParsedAnswer(found.pop(), "explicit")
    return ParsedAnswer(None, "none")


_FALLBACK_WORDS: tuple[tuple[str, ...], ...] = (
    (),  # anchored at the start: cheap as it is
    (),
    ("**",),
    ("\\boxed",),
    ("(",),
    ("answer",),
    ("with",),
    ("choose", "chose", "pick", "select"),
    ("option", "choice"),
)
"""Per fallback pattern, words one of which every match contains (lower case; none: always
run). A pattern whose words are all absent cannot match, so it is not run: scanning a long
reply with each case-insensitive pattern costs tens of microseconds, a substring test less
than one, and behaviour facts run these on every assistant reply of every episode."""


def could_match(words: tuple[str, ...], lowered: str) -> bool:
    """Whether a pattern gated by ``words`` may match the lower-cased text."""
    return not words or any(word in lowered for word in words)


def _fallback(raw: str, clean: str) -> ParsedAnswer:
    letters: set[str] = set()
    for text in (raw.strip(), clean):
        lowered = text.lower()
        for pattern, words in zip(_FALLBACKS, _FALLBACK_WORDS, strict=True):
            if could_match(words, lowered):
                letters.update(m.group(1).upper() for m in pattern.finditer(text))
    if len(letters) == 1:
        return ParsedAnswer(letters.pop(), "fallback")
    return ParsedAnswer(None, "none")


def parse_answer(text: str) -> ParsedAnswer:
    """Parse a user's final answer into a letter A–D (see the module docstring for rules)."""
    clean = strip_markup(text)
    explicit = _explicit(clean)
    if explicit is not None:
        return explicit
    return _fallback(text, clean)
