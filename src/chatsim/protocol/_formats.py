"""Prompt formats: named, versioned data that say how the simulator is prompted.

A format holds the step instructions (step 1, step 2, forced answer, and answering alone) and
the templates that lay out a transcript. Rendering lives in ``_render``; this module only
defines, looks up and loads formats.

Templates use ``{placeholder}`` fields, substituted in one pass (so braces inside question text
or messages, e.g. LaTeX, are never touched):

- instructions: ``{question}`` -- the question as ``Question.render()`` writes it;
- ``system_template``: ``{instruction}``;
- ``user_template`` / ``assistant_template``: ``{text}``.

``chatbench-text-v1`` -- the plain-text bracket format of the ChatBench LoRA card. The exact
whitespace was never published; this is our choice, pinned by golden tests::

    [SYSTEM] <instruction>\\n\\n[USER] <msg 1> [END]\\n\\n[ASSISTANT] <reply 1>\\n\\n[USER]

i.e. blocks joined by one blank line (``"\\n\\n"``); the system block is ``[SYSTEM]``, one
space, the instruction (which itself spans lines: the task, a blank line, then the question);
each earlier user turn is ``[USER] <text> [END]`` (closed by the stop marker, as the model
generates it); each assistant turn is ``[ASSISTANT] <text>`` (no marker); the prompt ends with
the bare label ``[USER]`` (no trailing space or newline), so the model writes the user's turn
and then ``[END]``.

``chatbench-chat-v1`` -- the same instructions as chat messages for a prompted LLM playing the
user: the system message is the instruction (with the question); the target's replies are
``user`` messages and the simulator's own earlier messages are ``assistant`` messages, since the
prompted LLM writes the user's side. Many chat templates need at least one ``user`` message, so
when the history is empty the format's ``chat_start`` cue is sent as the one user message. Later
on, the prompted simulator also sends the cue before its own first message, so that every
conversation opens with the user as the Anthropic and Gemini APIs require
(``simulators._prompted.opening_with_user``); ``render_chat`` itself renders the history as is.

Answering alone (``SimulatorStep.ALONE``: the ``user-alone`` condition and the first phase of
``answer-first``) is a fourth instruction, ``alone_instruction``, with its own chat cue,
``alone_start``. Both are fields with defaults, so a format file written before them still
loads, and the built-in formats keep version 1: their three conversation steps render
byte-for-byte as before (golden-tested), and the alone step is new text under a new field, so
``(name, version)`` still names every prompt a record can have been made with. A format that
changes ``alone_instruction`` is a new version like any other change of rendered text.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatsim._exceptions import ConfigError, UnknownNameError

__all__ = [
    "ALONE_INSTRUCTION",
    "CHATBENCH_CHAT_V1",
    "CHATBENCH_TEXT_V1",
    "STOP",
    "PromptFormat",
    "get_format",
    "list_formats",
    "load_format",
]

#: The stop marker the ChatBench LoRA writes after each user turn.
STOP = "[END]"

_NonEmpty = Annotated[str, Field(min_length=1)]

#: The default ``alone_instruction``. No assistant is mentioned: in ChatBench's user-alone
#: phase (and before answer-first's conversation) the person answers by themselves.
ALONE_INSTRUCTION = (
    "You are a person working on the multiple-choice question below on your own, without "
    "any AI assistant or other help. Answer it as you would by yourself. Reply with only your "
    'answer, in the form "Answer: X", where X is one of A, B, C or D.'
    "\n\nQuestion:\n{question}"
)


class PromptFormat(BaseModel):
    """How the simulator is prompted: step instructions plus transcript layout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: _NonEmpty
    """Registry name, e.g. ``chatbench-text-v1``."""
    version: Annotated[int, Field(ge=1)] = 1
    """Bumped whenever the rendered text changes, so records say which prompt was used."""
    kind: Literal["text", "chat"]
    """``text``: one plain-text prompt (fine-tuned LoRA); ``chat``: chat messages."""
    description: str = ""
    first_instruction: _NonEmpty
    """Step 1: write the user's first message. Must contain ``{question}``."""
    next_instruction: _NonEmpty
    """Step 2: end with ``Answer: X`` or write the next message. Must contain ``{question}``."""
    force_instruction: _NonEmpty
    """After the last allowed reply: give only the answer. Must contain ``{question}``."""
    alone_instruction: _NonEmpty = ALONE_INSTRUCTION
    """Answer alone, with no assistant (``user-alone``; ``answer-first``'s first answer):
    reply only ``Answer: X``. Must contain ``{question}``. Rendered with no history."""
    system_template: str = "[SYSTEM] {instruction}"
    """Text kind: the first block. Must contain ``{instruction}``."""
    user_template: str = "[USER] {text} [END]"
    """Text kind: an earlier user (simulator) turn. Must contain ``{text}``."""
    assistant_template: str = "[ASSISTANT] {text}"
    """Text kind: an earlier assistant (target) turn. Must contain ``{text}``."""
    generation_prefix: str = "[USER]"
    """Text kind: the last block, after which the model writes the user's turn."""
    separator: str = "\n\n"
    """Text kind: what joins the blocks."""
    stop: _NonEmpty = STOP
    """The marker that ends a generated user turn."""
    labels: tuple[str, ...] = ("[SYSTEM]", "[USER]", "[ASSISTANT]")
    """Turn labels; generated text is cut where the model starts writing one of them."""
    chat_start: str = "(The conversation has not started yet. Write your first message.)"
    """Chat kind: the lone user message sent when there is no history yet."""
    alone_start: str = "(Answer the question now, on your own.)"
    """Chat kind: the lone user message sent with ``alone_instruction``."""

    @model_validator(mode="after")
    def _check_placeholders(self) -> PromptFormat:
        required = {
            "first_instruction": "{question}",
            "next_instruction": "{question}",
            "force_instruction": "{question}",
            "alone_instruction": "{question}",
        }
        if self.kind == "text":
            required |= {
                "system_template": "{instruction}",
                "user_template": "{text}",
                "assistant_template": "{text}",
            }
        missing = [f"{k} (needs {v})" for k, v in required.items() if v not in getattr(self, k)]
        if missing:
            raise ValueError("missing placeholder in " + ", ".join(missing))
        return self


_TASK_CONTEXT = (
    "You are a person working on the multiple-choice question below, and you are chatting "
    "with an AI assistant to get help with it."
)

_FIRST = (
    _TASK_CONTEXT + " Write the first message you would send to the assistant. Write it the way "
    "real people write to a chat assistant: in your own words, often shorter or less formal "
    "than the question, sometimes asking about only one part of it or about the idea behind it, "
    "and not necessarily pasting the whole question and its options. Write only the message."
    "\n\nQuestion:\n{question}"
)

_NEXT = (
    _TASK_CONTEXT + " You have read the assistant's latest reply. Now decide what to do. If you "
    'are ready to answer, reply with exactly "Answer: X", where X is one of A, B, C or D, and '
    "nothing else. Otherwise, write the next message you would send to the assistant, as a "
    "real user would: ask a follow-up, push back, ask for a simpler explanation or check a "
    "step. Write only your reply.\n\nQuestion:\n{question}"
)

_FORCE = (
    _TASK_CONTEXT + " The conversation is over and you must now submit your answer. Reply with "
    'only your final answer, in the form "Answer: X", where X is one of A, B, C or D.'
    "\n\nQuestion:\n{question}"
)

CHATBENCH_TEXT_V1 = PromptFormat(
    name="chatbench-text-v1",
    kind="text",
    description="Plain-text bracket format of the ChatBench LoRA card ([SYSTEM] ... [USER]).",
    first_instruction=_FIRST,
    next_instruction=_NEXT,
    force_instruction=_FORCE,
)

CHATBENCH_CHAT_V1 = PromptFormat(
    name="chatbench-chat-v1",
    kind="chat",
    description="The two-step ChatBench instructions as chat messages, for a prompted LLM.",
    first_instruction=_FIRST,
    next_instruction=_NEXT,
    force_instruction=_FORCE,
)

_BUILTINS: dict[str, PromptFormat] = {f.name: f for f in (CHATBENCH_TEXT_V1, CHATBENCH_CHAT_V1)}


def list_formats() -> tuple[str, ...]:
    """Names of the built-in formats."""
    return tuple(sorted(_BUILTINS))


def get_format(name: str) -> PromptFormat:
    """A built-in format by name; ``UnknownNameError`` lists the valid names."""
    try:
        return _BUILTINS[name]
    except KeyError:
        raise UnknownNameError("prompt format", name, list_formats()) from None


def load_format(path: str | Path) -> PromptFormat:
    """Load a user's own format from a ``.json`` or ``.toml`` file (fields of ``PromptFormat``).

    Raises ``ConfigError`` naming the file and every problem found.
    """
    path = Path(path)
    data = _read_format_file(path)
    try:
        return PromptFormat.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid prompt format file {path}: {problems}") from exc


def _read_format_file(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(f"prompt format file {path} must end in .json or .toml")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read prompt format file {path}: {exc.strerror}") from exc
    try:
        data: object = (
            json.loads(raw.decode("utf-8")) if suffix == ".json" else tomllib.loads(raw.decode())
        )
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, TOMLDecodeError
        raise ConfigError(f"prompt format file {path} is not valid {suffix[1:]}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"prompt format file {path} must hold an object/table of fields")
    return data
