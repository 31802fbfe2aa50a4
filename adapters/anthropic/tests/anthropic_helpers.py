"""What the Anthropic adapter's tests share."""

from __future__ import annotations

from chatsim.protocol import Message, Role
from chatsim.targets import TargetRequest, TargetSettings
from chatsim_anthropic import AnthropicAdapter, anthropic_adapter
from chatsim_anthropic.testing import AnthropicLoopbackServer

KEY = "sk-ant-test-0123456789abcdefXYZ"
SYSTEM = "You are a helpful AI assistant."
QUESTION = "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22"
REPLY = "The answer is (B), because 2 + 2 = 4."


def request(*, stream: bool = True, **kw: object) -> TargetRequest:
    messages = (Message(Role.SYSTEM, SYSTEM), Message(Role.USER, QUESTION))
    return TargetRequest(messages=messages, stream=stream, **kw)  # type: ignore[arg-type]


def adapter_for(server: AnthropicLoopbackServer, **options: object) -> AnthropicAdapter:
    settings = TargetSettings(base_url=server.base_url, api_key=KEY, options=dict(options))
    return anthropic_adapter("claude-test", settings)
