"""Test doubles for users and adapter authors: no network, no GPU needed.

- ``LoopbackServer``: an OpenAI-compatible HTTP server on 127.0.0.1 whose replies, latencies,
  faults (``FaultPlan``) and capacity a test scripts; ``python -m chatsim.testing.server`` runs
  it as a process.
- ``AnthropicLoopbackServer`` (the Messages API) and ``GeminiLoopbackServer`` (the Gemini API,
  in front of a ``LoopbackServer``): the vendors' wires, scripted the same way; written from
  the published API references, no vendor SDK needed (the SDKs are their test clients).
  Their token counts are whitespace-separated words (``count_tokens``).
- ``FakeTarget``: an in-process target adapter with scripted replies and errors.
- ``ScriptedSimulator``: a deterministic simulated user.
- ``FakeClock``: a clock that moves only when told to, with an instant ``sleep`` to inject.
- ``registered_adapter``: an adapter registered for one ``with`` block, then unregistered.
- ``run_conformance``: the checks every target adapter must pass, on its ``Wire``
  (``OPENAI_WIRE``, ``ANTHROPIC_WIRE``, ``GEMINI_WIRE``, or one an adapter author writes).
- ``demo_script``: the server plays a whole conversation (``python -m chatsim.testing.server
  --demo``), to try chatsim with no key.
- ``build_tiny_chatbench``: a tiny Mistral + LoRA built offline, loadable like the real adapter;
  ``cached_tiny_chatbench`` builds it once per set of arguments.
"""

from chatsim.simulators._scripted import ScriptedSimulator, default_policy
from chatsim.testing._adapters import registered_adapter
from chatsim.testing._anthropic_server import AnthropicLoopbackServer
from chatsim.testing._clock import FakeClock
from chatsim.testing._conformance import (
    CONFORMANCE_API_KEY,
    CONFORMANCE_CHECKS,
    ConformanceCheck,
    ConformanceFailure,
    MakeAdapter,
    Trial,
    run_conformance,
)
from chatsim.testing._conformance_wire import (
    ANTHROPIC_WIRE,
    GEMINI_WIRE,
    OPENAI_WIRE,
    ConformanceServer,
    FaultCase,
    SentRequest,
    Wire,
    field_at,
)
from chatsim.testing._demo import demo_script
from chatsim.testing._fake_target import FakeTarget, Reply
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._gemini_server import GeminiLoopbackServer, GeminiRequest
from chatsim.testing._server import LoopbackServer, RecordedRequest, ServerStats
from chatsim.testing._server_capacity import Capacity, RateLimits
from chatsim.testing._server_replies import reset_connection
from chatsim.testing._server_script import (
    Latency,
    ReplyContext,
    ReplyScript,
    ScriptExhaustedError,
    count_tokens,
)
from chatsim.testing._tiny_model import (
    TinyModelPaths,
    build_tiny_chatbench,
    cached_tiny_chatbench,
)

__all__ = [
    "ANTHROPIC_WIRE",
    "CONFORMANCE_API_KEY",
    "CONFORMANCE_CHECKS",
    "GEMINI_WIRE",
    "OPENAI_WIRE",
    "AnthropicLoopbackServer",
    "Capacity",
    "ConformanceCheck",
    "ConformanceFailure",
    "ConformanceServer",
    "FakeClock",
    "FakeTarget",
    "Fault",
    "FaultCase",
    "FaultKind",
    "FaultPlan",
    "GeminiLoopbackServer",
    "GeminiRequest",
    "Latency",
    "LoopbackServer",
    "MakeAdapter",
    "RateLimits",
    "RecordedRequest",
    "Reply",
    "ReplyContext",
    "ReplyScript",
    "ScriptExhaustedError",
    "ScriptedSimulator",
    "SentRequest",
    "ServerStats",
    "TinyModelPaths",
    "Trial",
    "Wire",
    "build_tiny_chatbench",
    "cached_tiny_chatbench",
    "count_tokens",
    "default_policy",
    "demo_script",
    "field_at",
    "registered_adapter",
    "reset_connection",
    "run_conformance",
]
