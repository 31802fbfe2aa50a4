"""Ray's errors from a load test's actors, as the ``ChatsimError`` a user can act on.

The one place the Ray load-test driver translates them (``ray.exceptions``, chained with
``from`` by the caller):

- ``RayTaskError``: a remote call raised. A ``ChatsimError`` it carries is returned as it is
  (a refused key, a bad option: its own message says what to do); any other exception is a
  bug, named with its type and message.
- ``RayActorError`` (``ActorDiedError``, ``ActorUnavailableError``): the actor's process ended
  or its node was lost; or, with ``actor_init_failed``, its constructor raised.
- ``ObjectLostError`` and the rest of ``RayError``: a result lost with its node, Ray itself.

A load test has no resume, so every message ends with running it again.
"""

from __future__ import annotations

from pathlib import Path

from chatsim._exceptions import ChatsimError
from chatsim.distributed._errors import first_error
from chatsim.distributed._ray import import_ray

__all__ = ["as_chatsim", "first_error", "ray_failure", "silent_error", "worker_error"]

# ``first_error`` is the run driver's: one rule for both.

_LOGS = "its log is in the Ray session's logs on its node (/tmp/ray/session_latest/logs)"


def ray_failure(exc: BaseException, what: str, run_dir: Path) -> ChatsimError | None:
    """``exc``, raised by awaiting a call to ``what`` (``"load worker 1 of 2"``), as a
    ``ChatsimError``; None when it is no Ray error."""
    errors = import_ray().exceptions
    again = f"A load test has no resume: run it again ({run_dir} keeps what ran)."
    if isinstance(exc, errors.RayTaskError):
        cause = exc.cause
        if isinstance(cause, ChatsimError):
            return cause
        return ChatsimError(
            f"{what} failed: {type(cause).__name__}: {cause} (a bug in chatsim: please report "
            f"it with the traceback, {_LOGS}). {again}"
        )
    if isinstance(exc, errors.RayActorError):
        if exc.actor_init_failed:  # its constructor raised: the last line names the error
            lines = [line for line in str(exc).splitlines() if line.strip()]
            return ChatsimError(f"{what} could not start: {lines[-1].strip()}")
        return ChatsimError(
            f"{what} died (its process ended or its node was lost; {_LOGS}; `ray status` "
            f"shows the nodes). The other load workers were stopped. {again}"
        )
    if isinstance(exc, errors.ObjectLostError):
        return ChatsimError(f"a result of {what} was lost (its node went down?). {again}")
    if isinstance(exc, errors.RayError):
        return ChatsimError(f"Ray failed on {what}: {type(exc).__name__}: {exc}. {again}")
    return None


def worker_error(what: str, error: str, run_dir: Path) -> ChatsimError:
    """A load worker's own report that it can no longer run (its stage task or ``serve``
    raised ``error``: a bug, its traceback in the log)."""
    return ChatsimError(
        f"{what} failed: {error} (a bug in chatsim: please report it with the traceback in "
        f"the log, event 'load worker failed'). The other load workers were stopped. "
        f"A load test has no resume: run it again ({run_dir} keeps what ran)."
    )


def silent_error(what: str, seconds: float, run_dir: Path) -> ChatsimError:
    """A load worker alive but silent: no report for ``seconds`` (it reports at least every
    ``REPORT_SECONDS`` while healthy)."""
    return ChatsimError(
        f"{what} stopped answering: no report for {seconds:.0f} s (its event loop is blocked, "
        f"or its node is overloaded; {_LOGS}). It was ended and the other load workers were "
        f"stopped. A load test has no resume: run it again ({run_dir} keeps what ran)."
    )


def as_chatsim(exc: BaseException, what: str, run_dir: Path) -> ChatsimError | None:
    """``exc`` itself if a ``ChatsimError``, else ``ray_failure``."""
    return exc if isinstance(exc, ChatsimError) else ray_failure(exc, what, run_dir)
