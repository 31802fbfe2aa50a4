"""Training examples: one per user turn, plus the final answer, in a named prompt format.

A conversation with k user messages gives k+1 examples. Example i (0 ≤ i < k) is the prompt
the simulator would have been given before user message i -- the step-1 instruction for the
first, step 2 (or the forced answer after ``max_turns``) afterwards, and the transcript so far
-- with that message as the target. Example k asks for the answer after the whole transcript;
its target is ``Answer: X`` with the letter the user actually chose.

Prompts come from the protocol's renderers (``render_text`` / ``render_chat``), the very
functions generation uses, so training and generation prompts cannot drift apart:

- a text format gives ``{"prompt", "completion"}`` where ``completion`` is what the model
  must write after the prompt, the stop marker included (``" <text> [END]"``);
- a chat format gives ``{"messages": [...]}`` ending with the target as the ``assistant``
  message (the simulator's side), the shape hosted fine-tuning APIs take.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chatsim.protocol import (
    DEFAULT_MAX_TURNS,
    Message,
    PromptFormat,
    Role,
    SimulatorStep,
    next_step,
    render_chat,
    render_text,
)
from chatsim.training._conversations import UserConversation

__all__ = ["TrainingExample", "answer_target", "examples_of", "render_example"]


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """One pending user turn and what the user wrote there."""

    question_id: str
    history: tuple[Message, ...]
    """The transcript before the turn."""
    step: SimulatorStep
    target: str
    """The user's message, or ``Answer: X`` for the last example of a conversation."""
    conversation: UserConversation


def answer_target(letter: str) -> str:
    """The final target: exactly what step 2 asks the user to write."""
    return f"Answer: {letter}"


def examples_of(
    conversation: UserConversation, max_turns: int = DEFAULT_MAX_TURNS
) -> list[TrainingExample]:
    """The k+1 examples of a conversation; none when its answer is unknown or it is empty."""
    if conversation.answer is None or conversation.user_messages == 0:
        return []
    found, sent = [], 0
    messages = conversation.messages
    qid = conversation.question.id
    for index, message in enumerate(messages):
        if message.role is not Role.USER:
            continue
        step = next_step(sent, max_turns)
        found.append(TrainingExample(qid, messages[:index], step, message.content, conversation))
        sent += 1
    final = answer_target(conversation.answer)
    found.append(TrainingExample(qid, messages, next_step(sent, max_turns), final, conversation))
    return found


def render_example(fmt: PromptFormat, example: TrainingExample) -> dict[str, Any]:
    """One JSONL line of training data for ``fmt`` (see the module docstring)."""
    from chatsim.simulators._hf_prompt import continuation

    question = example.conversation.question
    if fmt.kind == "text":
        prompt = render_text(fmt, question, example.history, example.step)
        return {
            "prompt": prompt,
            "completion": continuation(fmt, example.target),
            "question_id": example.question_id,
            "step": example.step.value,
        }
    messages = render_chat(fmt, question, example.history, example.step)
    rows = [{"role": m.role.value, "content": m.content} for m in messages]
    rows.append({"role": "assistant", "content": example.target.strip()})
    return {"messages": rows}


def render_all(fmt: PromptFormat, examples: Iterable[TrainingExample]) -> Iterator[dict[str, Any]]:
    """``render_example`` over many."""
    for example in examples:
        yield render_example(fmt, example)
