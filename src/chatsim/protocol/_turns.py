"""Turn rules: which step comes next, what a user turn means, why an episode ended.

An episode alternates user (simulator) and assistant (target) messages:

- ``next_step(sent, max_turns)``: ``FIRST`` before any user message; ``NEXT`` after each
  reply while fewer than ``max_turns`` user messages have been answered; ``FORCE_ANSWER`` once
  ``max_turns`` have been answered (the simulator is then asked only for its answer).
- ``interpret_user_turn``: in ``FIRST``/``NEXT`` a turn is final only when its text *is* an
  answer statement (begins with ``Answer:`` once markup is stripped) -- never because
  ``Answer:`` appears somewhere inside free text. Otherwise it is a message to send. An empty
  message (``""``) is returned as such; the runner treats it as an invalid turn. In
  ``FORCE_ANSWER`` and ``ALONE`` (answering with no assistant) every turn is final and parsed
  with the fallback parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatsim._exceptions import ConfigError
from chatsim.protocol._formats import STOP
from chatsim.protocol._parse import is_answer_statement, parse_answer
from chatsim.protocol._types import ParsedAnswer, SimulatorStep, TerminationReason

__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_MAX_TURNS",
    "UserTurnDecision",
    "clean_generated",
    "interpret_user_turn",
    "next_step",
    "termination_for",
]

#: ChatBench's limit on user messages per conversation.
DEFAULT_MAX_TURNS = 10

#: Labels of ``chatbench-text-v1``: generation is cut where the model starts a new turn.
DEFAULT_LABELS: tuple[str, ...] = ("[SYSTEM]", "[USER]", "[ASSISTANT]")


@dataclass(frozen=True, slots=True)
class UserTurnDecision:
    """What one simulator turn means. Exactly one of the fields is set."""

    final: ParsedAnswer | None
    """The user's final answer (letter None when it could not be parsed)."""
    message: str | None
    """The next message to send to the assistant (may be ``""``: invalid, see module doc)."""


def clean_generated(text: str, stop: str = STOP, labels: Sequence[str] = DEFAULT_LABELS) -> str:
    """Cut generated text at the first stop marker or turn label, then strip whitespace.

    A label at the very start (the model repeating the ``[USER]`` it was prompted with) is
    dropped rather than cut at, which would lose the whole turn.
    """
    text = text.lstrip()
    for label in labels:
        if label and text.startswith(label):
            text = text[len(label) :]
            break
    cut = len(text)
    for marker in (stop, *labels):
        if marker:
            index = text.find(marker)
            if index != -1:
                cut = min(cut, index)
    return text[:cut].strip()


def interpret_user_turn(
    text: str,
    step: SimulatorStep,
    *,
    stop: str = STOP,
    labels: Sequence[str] = DEFAULT_LABELS,
) -> UserTurnDecision:
    """Decide whether a generated user turn is a final answer or a message (module doc)."""
    cleaned = clean_generated(text, stop, labels)
    final_only = SimulatorStep(step) in (SimulatorStep.FORCE_ANSWER, SimulatorStep.ALONE)
    if final_only or is_answer_statement(cleaned):
        return UserTurnDecision(final=parse_answer(cleaned), message=None)
    return UserTurnDecision(final=None, message=cleaned)


def next_step(user_messages_sent: int, max_turns: int = DEFAULT_MAX_TURNS) -> SimulatorStep:
    """The step the simulator is asked for, given how many user messages were answered."""
    if max_turns < 1:
        raise ConfigError(f"max_turns must be at least 1, got {max_turns}")
    if user_messages_sent < 0:
        raise ValueError(f"user_messages_sent must be >= 0, got {user_messages_sent}")
    if user_messages_sent == 0:
        return SimulatorStep.FIRST
    if user_messages_sent >= max_turns:
        return SimulatorStep.FORCE_ANSWER
    return SimulatorStep.NEXT


def termination_for(final: ParsedAnswer, step: SimulatorStep) -> TerminationReason:
    """Why an episode ended with this final answer given at this step."""
    if final.letter is None:
        return TerminationReason.INVALID_ANSWER
    if SimulatorStep(step) is SimulatorStep.FORCE_ANSWER:
        return TerminationReason.FORCED_ANSWER
    return TerminationReason.ANSWERED
