"""OpenAI-protocol targets for chatsim: ``openai``, ``azure`` and ``vllm`` profiles of one adapter.

Installed as the ``chatsim-openai`` distribution; chatsim finds the profiles through the
``chatsim.targets`` entry-point group, so ``chatsim run --model azure:my-deployment`` needs no
import here.
"""

from chatsim_openai._adapter import DEFAULT_TRANSPORT, TRANSPORTS, OpenAIAdapter
from chatsim_openai._errors import error_from_status
from chatsim_openai._factories import azure_adapter, openai_adapter, vllm_adapter

__all__ = [
    "DEFAULT_TRANSPORT",
    "TRANSPORTS",
    "OpenAIAdapter",
    "azure_adapter",
    "error_from_status",
    "openai_adapter",
    "vllm_adapter",
]
