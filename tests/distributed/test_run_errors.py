"""Errors out of a run on Ray reach the user as the ``ChatsimError`` they are: the first one
in anyio's exception groups, a worker's own error that Ray carried back, or one naming the
worker and the resume command; and the CPUs left to workers beside ``hf:`` actors."""

from __future__ import annotations

from chatsim import ChatsimError, MissingCredentialError
from chatsim.distributed._errors import first_error, worker_error
from chatsim.distributed._slots import workers_beside


def test_the_first_chatsim_error_of_nested_groups() -> None:
    error = ChatsimError("the real one")
    group = ExceptionGroup("outer", [ExceptionGroup("inner", [error]), ChatsimError("later")])
    assert first_error(group) is error


class _RayTaskError(Exception):
    """What Ray raises for a remote call that failed: the remote error as ``cause``."""

    def __init__(self, cause: BaseException | None, text: str = "") -> None:
        super().__init__(text or str(cause))
        self.cause = cause


def test_a_workers_own_error_comes_back_as_it_is() -> None:
    missing = MissingCredentialError("OPENAI_API_KEY", "the openai adapter needs an API key")
    assert worker_error("w:0", _RayTaskError(missing), 3, "chatsim run --resume r") is missing


def test_any_other_worker_error_names_the_worker_and_the_resume_command() -> None:
    crash = _RayTaskError(ZeroDivisionError("division by zero"))
    error = worker_error("chatsim:r:01:0", crash, 3, "chatsim run --resume runs/r --ray local")
    message = str(error)
    assert "ray worker chatsim:r:01:0 failed (ZeroDivisionError: division by zero)" in message
    assert "3 new episodes recorded" in message
    assert message.endswith("complete it with: chatsim run --resume runs/r --ray local")
    lost = worker_error("w:1", _RayTaskError(None, "Traceback ...\n  ...\nObjectLostError"), 0, "r")
    assert "(_RayTaskError: ObjectLostError)" in str(lost)


def test_workers_take_the_cpus_the_simulator_actors_leave() -> None:
    assert workers_beside(16, 1) == 15
    assert workers_beside(8, 8) == 1  # at least one
