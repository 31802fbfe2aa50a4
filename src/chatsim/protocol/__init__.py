"""The ChatBench protocol as pure functions: prompt formats, answer parsing, turn rules. No I/O."""

from chatsim.protocol._types import Message, ParsedAnswer, Role, SimulatorStep, TerminationReason

__all__ = ["Message", "ParsedAnswer", "Role", "SimulatorStep", "TerminationReason"]
