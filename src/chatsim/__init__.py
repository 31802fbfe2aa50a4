"""chatsim: evaluate LLM assistants in conversation with simulated users."""

from chatsim._exceptions import (
    AttemptTimeoutError,
    AuthenticationError,
    ChatsimError,
    ConfigError,
    DataError,
    MissingCredentialError,
    MissingDependencyError,
    PermanentError,
    RateLimitError,
    RunDirectoryError,
    SimulatorError,
    TargetError,
    TransientError,
    UnknownNameError,
)

__version__ = "0.1.0"

__all__ = [
    "AttemptTimeoutError",
    "AuthenticationError",
    "ChatsimError",
    "ConfigError",
    "DataError",
    "MissingCredentialError",
    "MissingDependencyError",
    "PermanentError",
    "RateLimitError",
    "RunDirectoryError",
    "SimulatorError",
    "TargetError",
    "TransientError",
    "UnknownNameError",
    "__version__",
]
