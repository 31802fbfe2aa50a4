"""The user side: the batch-first simulator contract and its backends.

Backends with heavy dependencies (``HFSimulator``: torch, transformers, peft) import them only
when a simulator is created, so importing this package stays light.
"""

from chatsim.simulators._batcher import BatcherStats, BatchItemErrors, MicroBatcher
from chatsim.simulators._contract import SimulatorBackend, TurnSource, UserTurn, UserTurnRequest
from chatsim.simulators._hf import HFOptions, HFSimulator, create_hf_simulator
from chatsim.simulators._prompted import PromptedSimulator
from chatsim.simulators._registry import (
    DEFAULT_HF_SPEC,
    SimulatorSettings,
    create_simulator,
    default_simulator_spec,
)
from chatsim.simulators._scripted import ScriptedSimulator
from chatsim.simulators._served import CompletionsAdapter, ServedSimulator, create_served_simulator
from chatsim.simulators._served_fleet import ServedFleet, create_served_fleet
from chatsim.simulators._sim_check import SimCheckResult, load_conversations, score_formats

__all__ = [
    "DEFAULT_HF_SPEC",
    "BatchItemErrors",
    "BatcherStats",
    "CompletionsAdapter",
    "HFOptions",
    "HFSimulator",
    "MicroBatcher",
    "PromptedSimulator",
    "ScriptedSimulator",
    "ServedFleet",
    "ServedSimulator",
    "SimCheckResult",
    "SimulatorBackend",
    "SimulatorSettings",
    "TurnSource",
    "UserTurn",
    "UserTurnRequest",
    "create_hf_simulator",
    "create_served_fleet",
    "create_served_simulator",
    "create_simulator",
    "default_simulator_spec",
    "load_conversations",
    "score_formats",
]
