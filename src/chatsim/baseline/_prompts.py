"""AI-alone prompts: MMLU-style letter-only (zero- and five-shot) and free text.

Letter-only follows the MMLU evaluation prompt (Hendrycks et al.): a header naming the subject,
the question with ``A. ...`` options, and ``Answer:``; five-shot puts the subject's five dev
examples, each with its answer, before the question. An instruction to reply with the letter
only is added because chat models otherwise explain. Free text sends the question exactly as
the simulated user is seeded with it, and the letter is extracted from the reply.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatsim.baseline._records import BaselineMode
from chatsim.protocol import Message, Role, parse_answer, stated_answer
from chatsim.questions import Question

__all__ = ["LETTER_ONLY_INSTRUCTION", "baseline_messages", "extract_answer"]

LETTER_ONLY_INSTRUCTION = "Reply with only the letter (A, B, C or D) of the correct answer."


def _subject_name(subject: str) -> str:
    return subject.replace("_", " ")


def _mmlu_block(q: Question, answer: str | None) -> str:
    tail = f" {answer}" if answer else ""
    return f"{q.render()}\nAnswer:{tail}"


def baseline_messages(
    question: Question,
    mode: BaselineMode,
    *,
    dev_examples: Sequence[Question] = (),
    system_prompt: str | None = None,
) -> tuple[Message, ...]:
    """The conversation to send for one AI-alone answer."""
    system = (Message(Role.SYSTEM, system_prompt),) if system_prompt else ()
    if mode == "free_text":
        return (*system, Message(Role.USER, question.render()))
    header = (
        "The following are multiple choice questions (with answers) about "
        f"{_subject_name(question.subject)}. {LETTER_ONLY_INSTRUCTION}\n\n"
    )
    shots = [_mmlu_block(ex, ex.gold) for ex in dev_examples] if mode == "five_shot" else []
    body = "\n\n".join([*shots, _mmlu_block(question, None)])
    return (*system, Message(Role.USER, header + body))


def extract_answer(text: str, mode: BaselineMode) -> str | None:
    """The letter in a reply: the protocol's parser first for letter-only replies ("B", "(B)",
    "Answer: B"), then the stated-answer rules used for assistant replies in conversations."""
    if mode != "free_text":
        letter = parse_answer(text).letter
        if letter is not None:
            return letter
    return stated_answer(text)
