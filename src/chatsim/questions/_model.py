"""The question: one multiple-choice item, as ChatBench uses MMLU."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["LETTERS", "Question"]

#: Option letters, in order. ChatBench questions always have exactly four options.
LETTERS: tuple[str, str, str, str] = ("A", "B", "C", "D")


class Question(BaseModel):
    """One multiple-choice question.

    Frozen and hashable so it can be shared between episodes without copies.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1)]
    """Stable identifier, e.g. ``college_mathematics-test-12`` (subject, split, 0-based row)."""
    subject: str
    """MMLU subject name, e.g. ``college_mathematics``; ``custom`` for user files without one."""
    stem: Annotated[str, Field(min_length=1)]
    """The question text, without options."""
    options: tuple[str, str, str, str]
    """The four options, in A–D order."""
    gold: str
    """The correct letter, one of A–D."""
    source: str = "mmlu"
    """Where it came from: ``mmlu``, ``mmlu-redux``, ``hf:<dataset>``, or a file path."""

    @field_validator("gold")
    @classmethod
    def _gold_is_letter(cls, value: str) -> str:
        letter = value.strip().upper()
        if letter not in LETTERS:
            raise ValueError(f"gold answer must be one of A, B, C, D, got {value!r}")
        return letter

    def render(self) -> str:
        """The question as the simulated user is seeded with it: stem, then ``A. ...`` lines."""
        lines = [self.stem.strip()]
        pairs = zip(LETTERS, self.options, strict=True)
        lines += [f"{letter}. {option.strip()}" for letter, option in pairs]
        return "\n".join(lines)
