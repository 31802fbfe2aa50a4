"""Errors out of a run on Ray as a user reads them: a ``ChatsimError``, never an exception
group (anyio's task groups wrap what is raised in them) or a raw Ray error."""

from __future__ import annotations

from pathlib import Path

from chatsim._exceptions import AuthenticationError, ChatsimError, QuotaExceededError
from chatsim.distributed._worker import WorkerFailure
from chatsim.runner import RunCrashed

__all__ = ["failure_error", "first_error", "worker_error"]


def first_error(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first ``ChatsimError`` in ``group`` (nested groups too), else its first error."""
    leaves: list[Exception] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = exc.exceptions
        elif isinstance(exc, Exception):
            leaves.append(exc)
    chatsim = [e for e in leaves if isinstance(e, ChatsimError)]
    return (chatsim or leaves)[0]


def worker_error(name: str, exc: Exception, recorded: int, resume: str) -> ChatsimError:
    """What a worker's failed remote call (not its death) means for the run: the worker's own
    ``ChatsimError`` where Ray carried one back (a missing key in its environment, say), else
    one naming the worker and Ray's error, with the records kept and the resume command."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, ChatsimError):
        return cause
    if isinstance(exc, ChatsimError):  # Ray's error made an instance of its cause's class
        return exc
    # The last line of Ray's text names the error (a constructor's: no cause is attached).
    lines = [line.strip() for line in str(cause if cause is not None else exc).splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    failed = "could not start" if getattr(exc, "actor_init_failed", False) else "failed"
    return ChatsimError(
        f"ray worker {name} {failed} ({type(cause or exc).__name__}: {last}); the run stopped "
        f"with {recorded} new episodes recorded. Details in the worker's Ray log; once fixed, "
        f"complete it with: {resume}"
    )


def failure_error(failure: WorkerFailure, run_dir: Path, recorded: int, resume: str) -> Exception:
    """What stopped the run when a worker reported ``failure``: the refused key or spent quota
    as one process raises it, a worker that could not start with the resume command, else the
    episode that failed unexpectedly (``RunCrashed``)."""
    if failure.kind == "auth":
        return AuthenticationError(failure.message)
    if failure.kind == "quota":
        return QuotaExceededError(failure.message)
    if failure.kind == "start":
        return ChatsimError(
            f"a ray worker could not start ({failure.message}); the run stopped with "
            f"{recorded} new episodes recorded. Once fixed, complete it with: {resume}"
        )
    if not failure.episode_id:  # the worker itself, not an episode (its serve raised)
        return ChatsimError(
            f"a ray worker failed unexpectedly ({failure.message}); the run stopped with "
            f"{recorded} new episodes recorded. Details in the worker's Ray log; complete it "
            f"with: {resume}"
        )
    return RunCrashed(run_dir, failure.episode_id, ChatsimError(failure.message))
