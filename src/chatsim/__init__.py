"""chatsim: evaluate LLM assistants in conversation with simulated users.

    result = await chatsim.evaluate(model="gpt-4o", subset="college_math")

The public surface is what this module exports; everything under ``_private`` names may change.
Sub-packages with their own public surface: ``chatsim.protocol``, ``chatsim.questions``,
``chatsim.simulators``, ``chatsim.targets``, ``chatsim.recording``, ``chatsim.metrics``,
``chatsim.testing``.
"""

# Private names only at this level (no ``from __future__ import annotations`` either): they
# would show as ``chatsim.Any``, ``chatsim.annotations``.
from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from chatsim._exceptions import (
    AttemptTimeoutError,
    AuthenticationError,
    ChatsimError,
    ConfigError,
    DataError,
    MissingCredentialError,
    MissingDependencyError,
    PermanentError,
    QuotaExceededError,
    RateLimitError,
    RunDirectoryError,
    RunFailedError,
    SimulatorError,
    TargetError,
    TransientError,
    UnknownNameError,
)

if _TYPE_CHECKING:
    from chatsim._api import EvaluationResult, evaluate, write_summary
    from chatsim.metrics import RunSummary, summarize
    from chatsim.questions import Question, load_questions
    from chatsim.recording import EpisodeRecord, RunHeader, TurnRecord, read_run
    from chatsim.runner import RunConfig

# The rest of the surface is imported on first use (PEP 562): ``from chatsim import
# ConfigError`` is in every module, and a Ray worker, the CLI's start or an adapter should not
# pay for evaluate's whole graph (metrics, numpy) each time a process starts.
_LAZY = {
    "EvaluationResult": "chatsim._api",
    "evaluate": "chatsim._api",
    "write_summary": "chatsim._api",
    "RunSummary": "chatsim.metrics",
    "summarize": "chatsim.metrics",
    "Question": "chatsim.questions",
    "load_questions": "chatsim.questions",
    "EpisodeRecord": "chatsim.recording",
    "RunHeader": "chatsim.recording",
    "TurnRecord": "chatsim.recording",
    "read_run": "chatsim.recording",
    "RunConfig": "chatsim.runner",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(_import_module(module), name)
    elif name.startswith("_"):
        raise AttributeError(f"module 'chatsim' has no attribute {name!r}")
    else:  # a sub-package (``chatsim.metrics``): ``import chatsim`` alone used to load them
        try:
            value = _import_module(f"chatsim.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"chatsim.{name}":
                raise
            raise AttributeError(f"module 'chatsim' has no attribute {name!r}") from None
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "AttemptTimeoutError",
    "AuthenticationError",
    "ChatsimError",
    "ConfigError",
    "DataError",
    "EpisodeRecord",
    "EvaluationResult",
    "MissingCredentialError",
    "MissingDependencyError",
    "PermanentError",
    "Question",
    "QuotaExceededError",
    "RateLimitError",
    "RunConfig",
    "RunDirectoryError",
    "RunFailedError",
    "RunHeader",
    "RunSummary",
    "SimulatorError",
    "TargetError",
    "TransientError",
    "TurnRecord",
    "UnknownNameError",
    "__version__",
    "evaluate",
    "load_questions",
    "read_run",
    "summarize",
    "write_summary",
]
