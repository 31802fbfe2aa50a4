"""The ChatBench protocol as pure functions: prompt formats, answer parsing, turn rules.

No I/O, except ``load_format`` reading a user's own template file.
"""

from chatsim.protocol._formats import (
    CHATBENCH_CHAT_V1,
    CHATBENCH_TEXT_V1,
    STOP,
    PromptFormat,
    get_format,
    list_formats,
    load_format,
)
from chatsim.protocol._parse import parse_answer
from chatsim.protocol._render import render_chat, render_text
from chatsim.protocol._stated import stated_answer
from chatsim.protocol._trim import TRIM_MARKER, fit_history
from chatsim.protocol._turns import (
    DEFAULT_MAX_TURNS,
    UserTurnDecision,
    clean_generated,
    interpret_user_turn,
    next_step,
    termination_for,
)
from chatsim.protocol._types import Message, ParsedAnswer, Role, SimulatorStep, TerminationReason

__all__ = [
    "CHATBENCH_CHAT_V1",
    "CHATBENCH_TEXT_V1",
    "DEFAULT_MAX_TURNS",
    "STOP",
    "TRIM_MARKER",
    "Message",
    "ParsedAnswer",
    "PromptFormat",
    "Role",
    "SimulatorStep",
    "TerminationReason",
    "UserTurnDecision",
    "clean_generated",
    "fit_history",
    "get_format",
    "interpret_user_turn",
    "list_formats",
    "load_format",
    "next_step",
    "parse_answer",
    "render_chat",
    "render_text",
    "stated_answer",
    "termination_for",
]
