"""``chatsim.testing``'s public surface is what we mean it to be, and needs no vendor SDK."""

from __future__ import annotations

import inspect
import subprocess
import sys

import chatsim.testing

EXPECTED = {
    # servers, their scripts, faults and records
    "LoopbackServer",
    "AnthropicLoopbackServer",
    "GeminiLoopbackServer",
    "GeminiRequest",
    "RecordedRequest",
    "ServerStats",
    "Capacity",
    "RateLimits",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Latency",
    "ReplyContext",
    "ReplyScript",
    "ScriptExhaustedError",
    "reset_connection",
    "count_tokens",
    # the conformance suite and its wires
    "CONFORMANCE_API_KEY",
    "CONFORMANCE_CHECKS",
    "ConformanceCheck",
    "ConformanceFailure",
    "MakeAdapter",
    "Trial",
    "run_conformance",
    "Wire",
    "OPENAI_WIRE",
    "ANTHROPIC_WIRE",
    "GEMINI_WIRE",
    "ConformanceServer",
    "FaultCase",
    "SentRequest",
    "field_at",
    # other doubles
    "FakeClock",
    "FakeTarget",
    "Reply",
    "ScriptedSimulator",
    "default_policy",
    "registered_adapter",
    "demo_script",
    "TinyModelPaths",
    "build_tiny_chatbench",
    "cached_tiny_chatbench",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(chatsim.testing.__all__) == EXPECTED
    assert len(chatsim.testing.__all__) == len(EXPECTED)
    for name in chatsim.testing.__all__:
        assert hasattr(chatsim.testing, name), name


def test_public_classes_and_functions_are_defined_in_chatsim() -> None:
    for name in chatsim.testing.__all__:
        obj = getattr(chatsim.testing, name)
        if isinstance(obj, type) or inspect.isfunction(obj):
            assert obj.__module__.startswith("chatsim"), (name, obj.__module__)


def test_every_wire_is_named_and_distinct() -> None:
    wires = [
        chatsim.testing.OPENAI_WIRE,
        chatsim.testing.ANTHROPIC_WIRE,
        chatsim.testing.GEMINI_WIRE,
    ]
    assert [w.name for w in wires] == ["openai", "anthropic", "gemini"]
    assert chatsim.testing.ANTHROPIC_WIRE.seed is None  # the Messages API has no seed


def test_importing_it_loads_no_vendor_sdk_and_no_torch() -> None:
    code = (
        "import sys, chatsim.testing;"
        "heavy = ('anthropic', 'google.genai', 'openai', 'torch');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
