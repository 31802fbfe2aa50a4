"""Anthropic targets for chatsim: ``anthropic:<model>`` over the Messages API, and
``bedrock:<model>``, Claude on Amazon Bedrock's Anthropic-native endpoint, as a profile of the
same adapter.

Installed as the ``chatsim-anthropic`` distribution; chatsim finds it through the
``chatsim.targets`` entry-point group, so ``chatsim run --model anthropic:claude-sonnet-4-5``
needs no import here. ``chatsim_anthropic.testing`` holds a Messages API loopback server.
"""

from chatsim_anthropic._adapter import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_TRANSPORT,
    TRANSPORTS,
    AnthropicAdapter,
)
from chatsim_anthropic._errors import error_from_status
from chatsim_anthropic._factories import (
    BEDROCK_KEY_VARIABLES,
    anthropic_adapter,
    bedrock_adapter,
)

__all__ = [
    "BEDROCK_KEY_VARIABLES",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_TRANSPORT",
    "TRANSPORTS",
    "AnthropicAdapter",
    "anthropic_adapter",
    "bedrock_adapter",
    "error_from_status",
]
