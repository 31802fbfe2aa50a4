"""Anthropic targets for chatsim: ``anthropic:<model>`` over the Messages API.

Installed as the ``chatsim-anthropic`` distribution; chatsim finds it through the
``chatsim.targets`` entry-point group, so ``chatsim run --model anthropic:claude-sonnet-4-5``
needs no import here. ``chatsim_anthropic.testing`` holds a Messages API loopback server.
"""

from chatsim_anthropic._adapter import DEFAULT_MAX_TOKENS, AnthropicAdapter
from chatsim_anthropic._errors import error_from_status
from chatsim_anthropic._factories import anthropic_adapter

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicAdapter", "anthropic_adapter", "error_from_status"]
