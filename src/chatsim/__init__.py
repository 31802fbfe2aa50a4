"""chatsim: evaluate LLM assistants in conversation with simulated users.

    result = await chatsim.evaluate(model="gpt-4o", subset="college_math")

The public surface is what this module exports; everything under ``_private`` names may change.
Sub-packages with their own public surface: ``chatsim.protocol``, ``chatsim.questions``,
``chatsim.simulators``, ``chatsim.targets``, ``chatsim.recording``, ``chatsim.metrics``,
``chatsim.testing``.
"""

from chatsim._api import EvaluationResult, evaluate, write_summary
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
from chatsim.metrics import RunSummary, summarize
from chatsim.questions import Question, load_questions
from chatsim.recording import EpisodeRecord, RunHeader, TurnRecord, read_run
from chatsim.runner import RunConfig

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
