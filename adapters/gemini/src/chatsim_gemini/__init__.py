"""Gemini targets for chatsim on the official ``google-genai`` SDK: ``gemini:<model>`` (the
Gemini Developer API) and ``vertex:<model>`` (Gemini on Vertex AI), two profiles of one adapter.

Installed as the ``chatsim-gemini`` distribution; chatsim finds the adapter through the
``chatsim.targets`` entry-point group, so ``chatsim run --model gemini:gemini-2.5-flash`` needs
no import here. ``chatsim_gemini.testing`` re-exports ``chatsim.testing.GeminiLoopbackServer``,
which speaks both APIs.
"""

from chatsim_gemini._adapter import DEFAULT_BASE_URL, GeminiAdapter, finish_reason_of
from chatsim_gemini._errors import error_from_api_error
from chatsim_gemini._factory import API_KEY_VARIABLES, BASE_URL_VARIABLE, create_gemini_adapter
from chatsim_gemini._vertex import (
    LOCATION_VARIABLE,
    PROJECT_VARIABLE,
    VERTEX_BASE_URL_VARIABLE,
    create_vertex_adapter,
)
from chatsim_gemini._vertex_auth import CREDENTIALS_VARIABLE

__all__ = [
    "API_KEY_VARIABLES",
    "BASE_URL_VARIABLE",
    "CREDENTIALS_VARIABLE",
    "DEFAULT_BASE_URL",
    "LOCATION_VARIABLE",
    "PROJECT_VARIABLE",
    "VERTEX_BASE_URL_VARIABLE",
    "GeminiAdapter",
    "create_gemini_adapter",
    "create_vertex_adapter",
    "error_from_api_error",
    "finish_reason_of",
]
