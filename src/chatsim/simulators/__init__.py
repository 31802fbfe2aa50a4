"""The user side: the batch-first simulator contract and its backends."""

from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest

__all__ = ["SimulatorBackend", "UserTurn", "UserTurnRequest"]
