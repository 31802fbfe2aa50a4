"""The Gemini API loopback server, re-exported from ``chatsim.testing`` where it lives.

``GeminiLoopbackServer`` speaks the Gemini REST wire without the ``google-genai`` SDK (the SDK
is its test client); kept importable here for the tests and helpers that use this path.
"""

from chatsim.testing import GeminiLoopbackServer, GeminiRequest

__all__ = ["GeminiLoopbackServer", "GeminiRequest"]
