"""The one exception tree of chatsim.

Foreign errors (HTTP libraries, vendor SDKs, torch) are translated into this tree at one
boundary each (the target adapter, the simulator backend) and chained with ``from``. Classes
marked with a module are defined there, next to the code that raises them (this module
imports nothing of chatsim)::

    ChatsimError
    ├── ConfigError               bad configuration or arguments; nothing was sent
    │   ├── UnknownNameError      unknown subset, model, adapter, simulator or format
    │   ├── MissingCredentialError  names the environment variable to set
    │   └── MissingDependencyError  names the extra to install
    ├── DataError                 a question file or record that cannot be read
    │   └── RunDirectoryError     not a run directory, header mismatch on resume
    ├── TargetError               the assistant side failed (one attempt)
    │   ├── RateLimitError        429; carries retry_after
    │   ├── TransientError        408/409/5xx, connection reset, read timeout, cut stream
    │   │   └── AttemptTimeoutError  the per-attempt timeout elapsed
    │   │       └── DeadlineExceededError  (targets) the episode's deadline; also a TimeoutError
    │   ├── PermanentError        400/404/422, context length exceeded: retrying cannot help
    │   └── AuthenticationError   401/403: the run stops early
    │       └── QuotaExceededError   429 insufficient_quota: the account is spent; stops too
    ├── SimulatorError            the user side failed
    │   └── BatchItemErrors       (simulators) some turns of a batch failed, others did not
    ├── RunFailedError            too many episodes ended in errors; carries the full result
    ├── RunCrashed                (runner) an episode failed unexpectedly (a bug); run stopped
    └── RunInterrupted            (runner) Ctrl-C / SIGTERM stopped the run; resume it
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AttemptTimeoutError",
    "AuthenticationError",
    "ChatsimError",
    "ConfigError",
    "DataError",
    "MissingCredentialError",
    "MissingDependencyError",
    "PermanentError",
    "QuotaExceededError",
    "RateLimitError",
    "RunDirectoryError",
    "RunFailedError",
    "SimulatorError",
    "TargetError",
    "TransientError",
    "UnknownNameError",
]


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """``cls`` with ``args`` (its message) and ``state`` (its attributes), without calling
    its ``__init__``, whose parameters are not the message (``ChatsimError.__reduce__``)."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ChatsimError(Exception):
    """Root of every error chatsim raises on purpose.

    Every one survives ``pickle`` with its type, message and attributes (Ray ships an
    actor's error to the driver so): the default rebuilds an exception by calling its class
    with its message, which fails for those whose ``__init__`` takes other arguments.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


class ConfigError(ChatsimError):
    """Configuration or arguments are wrong; nothing has been sent or recorded."""


class UnknownNameError(ConfigError):
    """A name (subset, model spec, adapter, simulator, format) is not known.

    The message lists the valid names.
    """

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.valid = tuple(valid)
        shown = ", ".join(self.valid) if self.valid else "(none installed)"
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {shown}")


class MissingCredentialError(ConfigError):
    """A credential is missing; the message names the environment variable to set."""

    def __init__(self, variable: str, what: str) -> None:
        self.variable = variable
        super().__init__(f"{what}: set the environment variable {variable} (or pass it explicitly)")


class MissingDependencyError(ConfigError):
    """An optional dependency is not installed; the message says which extra to install."""

    def __init__(self, package: str, extra: str, purpose: str, hint: str = "") -> None:
        self.package = package
        self.extra = extra
        msg = f"{purpose} needs {package!r}, which is not installed: pip install 'chatsim[{extra}]'"
        super().__init__(f"{msg}. {hint}" if hint else msg)


class DataError(ChatsimError):
    """Input data (a question file, a record) cannot be read or is invalid."""


class RunDirectoryError(DataError):
    """A path is not a usable run directory, or a resume does not match its header."""


class TargetError(ChatsimError):
    """One attempt at the assistant side failed.

    ``status_code`` is the HTTP status where there was one; ``request_id`` and ``headers`` are
    the provider's (secrets already removed) where present.
    """

    #: How the core's retry policy treats this error: "rate_limit", "transient",
    #: "permanent" or "auth". Subclasses set it; classification never parses messages.
    category: str = "permanent"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.headers = dict(headers or {})
        #: Every attempt the core made before giving up (set by the core's caller).
        self.attempts: list[Any] = []


class RateLimitError(TargetError):
    """429: slow down. ``retry_after`` is the server's hint in seconds, if it gave one."""

    category = "rate_limit"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class TransientError(TargetError):
    """A failure that a retry can fix: 408, 409, 5xx, reset, read timeout, cut stream."""

    category = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class AttemptTimeoutError(TransientError):
    """The per-attempt timeout elapsed before the reply finished."""


class PermanentError(TargetError):
    """A failure that retrying cannot fix (400, 404, 422, context length exceeded)."""

    category = "permanent"


class AuthenticationError(TargetError):
    """401/403: credentials are wrong or lack access. The run stops early."""

    category = "auth"


class QuotaExceededError(AuthenticationError):
    """The account's quota is spent (OpenAI's 429 ``insufficient_quota``). Retrying or waiting
    cannot help, so like a refused key it stops the run; resume once the quota is restored."""


class SimulatorError(ChatsimError):
    """The simulated user could not produce a turn.

    ``attempts`` holds the HTTP attempts of a served or prompted simulator's failed turn, so
    the record keeps them (empty for local backends).
    """

    def __init__(self, message: str, *, attempts: list[Any] | None = None) -> None:
        super().__init__(message)
        self.attempts: list[Any] = list(attempts or [])


class RunFailedError(ChatsimError):
    """The run finished, but too many of its episodes ended in errors to trust its figures
    (``RunConfig.max_error_share``; a model whose every episode failed always fails the run).

    Raised by ``evaluate`` after the summary is written, so nothing is lost: ``result`` is the
    ``EvaluationResult`` it would have returned, ``failure`` its ``summary.failure`` (the
    dominant error kinds, with counts and an example). The run directory is complete;
    ``chatsim run --resume DIR --retry-errors`` re-runs the failed episodes.
    """

    def __init__(self, result: Any) -> None:  # an EvaluationResult (this module imports none)
        self.result = result
        self.run_dir = result.run_dir
        self.failure = result.summary.failure
        message = self.failure.message if self.failure else "run failed"
        kinds = "; ".join(
            f"{k.kind} x{k.episodes} (e.g. {k.example!r})"
            for k in (self.failure.kinds if self.failure else [])
        )
        super().__init__(
            f"{message}. {kinds}. Records are in {self.run_dir}; re-run the failed episodes "
            f"with: chatsim run --resume {self.run_dir} --retry-errors"
        )
