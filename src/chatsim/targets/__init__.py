"""The assistant side: the adapter contract, model specs, and the core's call policy.

Adapter authors: the contract is here; the shared helpers (the one HTTP-status mapping,
redaction, URL checks) are in ``chatsim.targets.kit``.
"""

from chatsim._util._redact import register_secret_headers
from chatsim.targets._adaptive import LimitChange
from chatsim.targets._build import build_caller, target_settings
from chatsim.targets._caller import CallerStats, TargetCaller
from chatsim.targets._contract import AdapterReply, TargetAdapter, TargetReply, TargetRequest
from chatsim.targets._policy import CallPolicy
from chatsim.targets._pool import CallerKey, CallerPool
from chatsim.targets._registry import (
    HOSTED_ADAPTERS,
    ModelSpec,
    TargetSettings,
    adapter_environment,
    available_adapters,
    create_adapter,
    endpoint_for,
    env_setting,
    parse_model_spec,
    reads_environment,
    register_adapter,
    unregister_adapter,
)
from chatsim.targets._retry import DeadlineExceededError, classify, parse_retry_after

__all__ = [
    "HOSTED_ADAPTERS",
    "AdapterReply",
    "CallPolicy",
    "CallerKey",
    "CallerPool",
    "CallerStats",
    "DeadlineExceededError",
    "LimitChange",
    "ModelSpec",
    "TargetAdapter",
    "TargetCaller",
    "TargetReply",
    "TargetRequest",
    "TargetSettings",
    "adapter_environment",
    "available_adapters",
    "build_caller",
    "classify",
    "create_adapter",
    "endpoint_for",
    "env_setting",
    "parse_model_spec",
    "parse_retry_after",
    "reads_environment",
    "register_adapter",
    "register_secret_headers",
    "target_settings",
    "unregister_adapter",
]
