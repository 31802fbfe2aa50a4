"""Render a prompt format for one pending user turn: as plain text or as chat messages."""

from __future__ import annotations

import re
from collections.abc import Mapping

from chatsim._exceptions import ConfigError
from chatsim.protocol._formats import PromptFormat
from chatsim.protocol._types import Message, Role, SimulatorStep
from chatsim.questions._model import Question

__all__ = ["instruction_for", "render_chat", "render_text", "substitute"]

_FIELD = re.compile(r"\{(question|instruction|text)\}")


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{question}``/``{instruction}``/``{text}`` in one pass.

    One pass means inserted text is never itself substituted, and any other braces (LaTeX,
    JSON in a message) are left alone.
    """
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def instruction_for(fmt: PromptFormat, question: Question, step: SimulatorStep) -> str:
    """The step's instruction with the question filled in."""
    template = {
        SimulatorStep.FIRST: fmt.first_instruction,
        SimulatorStep.NEXT: fmt.next_instruction,
        SimulatorStep.FORCE_ANSWER: fmt.force_instruction,
        SimulatorStep.ALONE: fmt.alone_instruction,
    }[SimulatorStep(step)]
    return substitute(template, {"question": question.render()})


def _check(fmt: PromptFormat, kind: str, history: tuple[Message, ...]) -> None:
    if fmt.kind != kind:
        raise ConfigError(
            f"prompt format {fmt.name!r} is a {fmt.kind} format; it cannot be rendered as {kind}"
        )
    for message in history:
        if message.role not in (Role.USER, Role.ASSISTANT):
            raise ConfigError(
                f"history may hold only user and assistant messages, got {message.role!r}"
            )


def render_text(
    fmt: PromptFormat,
    question: Question,
    history: tuple[Message, ...],
    step: SimulatorStep,
) -> str:
    """The plain-text prompt (``kind == "text"``); the model continues after the last label."""
    _check(fmt, "text", history)
    instruction = instruction_for(fmt, question, step)
    blocks = [substitute(fmt.system_template, {"instruction": instruction})]
    for message in history:
        template = fmt.user_template if message.role == Role.USER else fmt.assistant_template
        blocks.append(substitute(template, {"text": message.content.strip()}))
    blocks.append(fmt.generation_prefix)
    return fmt.separator.join(blocks)


def render_chat(
    fmt: PromptFormat,
    question: Question,
    history: tuple[Message, ...],
    step: SimulatorStep,
) -> tuple[Message, ...]:
    """Chat messages (``kind == "chat"``) for a prompted LLM playing the user.

    Roles are swapped: the simulator's own earlier messages become ``assistant`` messages and
    the target's replies become ``user`` messages. Answering alone (no history) is cued by
    ``alone_start`` instead of ``chat_start``, which invites a first message to an assistant.
    """
    _check(fmt, "chat", history)
    messages = [Message(Role.SYSTEM, instruction_for(fmt, question, step))]
    swap = {Role.USER: Role.ASSISTANT, Role.ASSISTANT: Role.USER}
    messages += [Message(swap[m.role], m.content.strip()) for m in history]
    cue = fmt.alone_start if SimulatorStep(step) is SimulatorStep.ALONE else fmt.chat_start
    if not history and cue:
        messages.append(Message(Role.USER, cue))
    return tuple(messages)
