"""The protocol package exports exactly the names we mean."""

from __future__ import annotations

import chatsim.protocol as protocol

EXPECTED = {
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
}


def test_public_names() -> None:
    assert set(protocol.__all__) == EXPECTED
    for name in protocol.__all__:
        assert getattr(protocol, name) is not None
