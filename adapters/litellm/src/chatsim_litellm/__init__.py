"""litellm targets for chatsim: ``litellm:<provider>/<model>``, the catch-all (slow) path.

Installed as the ``chatsim-litellm`` distribution; chatsim finds it through the
``chatsim.targets`` entry-point group, so ``chatsim run --model litellm:groq/llama-3.1-8b-instant``
needs no import here. Importing this package does not import litellm (a slow import that
otherwise reaches the internet): the factory loads it, offline, when an adapter is built.
"""

from chatsim_litellm._adapter import LiteLLMAdapter, recorded_headers
from chatsim_litellm._errors import error_from_litellm
from chatsim_litellm._factory import litellm_adapter
from chatsim_litellm._sdk import OFFLINE_VARIABLES, load

__all__ = [
    "OFFLINE_VARIABLES",
    "LiteLLMAdapter",
    "error_from_litellm",
    "litellm_adapter",
    "load",
    "recorded_headers",
]
