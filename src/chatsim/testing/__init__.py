"""Test doubles for users and adapter authors: no network, no GPU needed.

- ``LoopbackServer``: an OpenAI-compatible HTTP server on 127.0.0.1 whose replies, latencies,
  faults (``FaultPlan``) and capacity a test scripts; ``python -m chatsim.testing.server`` runs
  it as a process.
- ``FakeTarget``: an in-process target adapter with scripted replies and errors.
- ``ScriptedSimulator``: a deterministic simulated user.
- ``FakeClock``: a clock that moves only when told to, with an instant ``sleep`` to inject.
- ``registered_adapter``: an adapter registered for one ``with`` block, then unregistered.
- ``run_conformance``: the checks every target adapter must pass.
- ``demo_script``: the server plays a whole conversation (``python -m chatsim.testing.server
  --demo``), to try chatsim with no key.
- ``build_tiny_chatbench``: a tiny Mistral + LoRA built offline, loadable like the real adapter;
  ``cached_tiny_chatbench`` builds it once per set of arguments.
"""

from chatsim.simulators._scripted import ScriptedSimulator, default_policy
from chatsim.testing._adapters import registered_adapter
from chatsim.testing._clock import FakeClock
from chatsim.testing._conformance import (
    CONFORMANCE_API_KEY,
    CONFORMANCE_CHECKS,
    ConformanceCheck,
    ConformanceFailure,
    MakeAdapter,
    run_conformance,
)
from chatsim.testing._demo import demo_script
from chatsim.testing._fake_target import FakeTarget, Reply
from chatsim.testing._faults import Fault, FaultKind, FaultPlan
from chatsim.testing._server import LoopbackServer, RecordedRequest, ServerStats
from chatsim.testing._server_capacity import Capacity, RateLimits
from chatsim.testing._server_replies import reset_connection
from chatsim.testing._server_script import (
    Latency,
    ReplyContext,
    ReplyScript,
    ScriptExhaustedError,
)
from chatsim.testing._tiny_model import (
    TinyModelPaths,
    build_tiny_chatbench,
    cached_tiny_chatbench,
)

__all__ = [
    "CONFORMANCE_API_KEY",
    "CONFORMANCE_CHECKS",
    "Capacity",
    "ConformanceCheck",
    "ConformanceFailure",
    "FakeClock",
    "FakeTarget",
    "Fault",
    "FaultKind",
    "FaultPlan",
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
    "ServerStats",
    "TinyModelPaths",
    "build_tiny_chatbench",
    "cached_tiny_chatbench",
    "default_policy",
    "demo_script",
    "registered_adapter",
    "reset_connection",
    "run_conformance",
]
