"""Gemini targets for chatsim: ``gemini:<model>`` on the official ``google-genai`` SDK.

Installed as the ``chatsim-gemini`` distribution; chatsim finds the adapter through the
``chatsim.targets`` entry-point group, so ``chatsim run --model gemini:gemini-2.5-flash`` needs
no import here. ``chatsim_gemini.testing`` holds a loopback server speaking the Gemini API.
"""

from chatsim_gemini._adapter import DEFAULT_BASE_URL, GeminiAdapter, finish_reason_of
from chatsim_gemini._errors import error_from_api_error
from chatsim_gemini._factory import API_KEY_VARIABLES, BASE_URL_VARIABLE, create_gemini_adapter

__all__ = [
    "API_KEY_VARIABLES",
    "BASE_URL_VARIABLE",
    "DEFAULT_BASE_URL",
    "GeminiAdapter",
    "create_gemini_adapter",
    "error_from_api_error",
    "finish_reason_of",
]
