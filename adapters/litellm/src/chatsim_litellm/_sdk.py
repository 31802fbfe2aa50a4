"""litellm, imported once, offline and quiet, the first time an adapter is built.

Importing litellm takes seconds and, by default, reaches the internet: it fetches a model cost
map (retrying in a background thread when offline) and, on first use, Anthropic beta-header
and blog-post catalogues from GitHub. A chatsim run must not phone home, nor pay that import
when it names no ``litellm:`` model, so nothing here runs until a factory calls ``load()``.

Before the import, ``load()`` sets litellm's offline switches (``LITELLM_OFFLINE_MODE``, the
master switch of this litellm version, plus the older per-catalogue ones) so that litellm
reads its bundled copies instead, and ``LITELLM_MODE=PRODUCTION``: in its default ``DEV``
mode the import loads a ``.env`` file (from the working directory, or above the installed
package) into ``os.environ``, which could quietly move another adapter's endpoint or key.
After it, litellm's "Give Feedback / Get Help" banner, which it prints to stdout on every
exception, is switched off. The adapter registers no
callbacks; litellm ships none by default, so nothing is logged or sent elsewhere.
"""

from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType
from typing import Any, Final

__all__ = ["OFFLINE_VARIABLES", "load"]

#: Set (overriding the environment) before litellm is imported: every catalogue litellm would
#: otherwise download comes from the copy bundled with it, and no ``.env`` file is read.
OFFLINE_VARIABLES: Final = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_MODE": "PRODUCTION",
}

_lock = threading.Lock()
_loaded: ModuleType | None = None


def load() -> ModuleType:
    """The ``litellm`` module, imported offline on first call and configured for chatsim."""
    global _loaded
    with _lock:
        if _loaded is None:
            os.environ.update(OFFLINE_VARIABLES)
            # Through importlib, so mypy does not follow into litellm (a very large package
            # with partial types); the adapter reads it as Any either way.
            litellm: Any = importlib.import_module("litellm")
            litellm.suppress_debug_info = True
            _loaded = litellm
        return _loaded
