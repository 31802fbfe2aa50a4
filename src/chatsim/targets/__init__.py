"""The assistant side: the adapter contract, model specs, and the core's call policy."""

from chatsim.targets._caller import CallPolicy, TargetCaller
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetReply, TargetRequest
from chatsim.targets._registry import (
    ModelSpec,
    TargetSettings,
    available_adapters,
    create_adapter,
    parse_model_spec,
    register_adapter,
)

__all__ = [
    "AdapterReply",
    "CallPolicy",
    "ModelSpec",
    "TargetAdapter",
    "TargetCaller",
    "TargetReply",
    "TargetRequest",
    "TargetSettings",
    "available_adapters",
    "create_adapter",
    "parse_model_spec",
    "register_adapter",
]
