"""The Messages API loopback server, re-exported from ``chatsim.testing`` where it lives.

``AnthropicLoopbackServer`` speaks Anthropic's wire without the ``anthropic`` SDK (the SDK is
its test client); kept importable here for the tests and helpers that use this path.
"""

from chatsim.testing import AnthropicLoopbackServer, count_tokens

__all__ = ["AnthropicLoopbackServer", "count_tokens"]
