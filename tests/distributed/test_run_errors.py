"""The Ray driver's rules, without Ray: errors reach the user as the ``ChatsimError`` they are
(the first one in anyio's exception groups, a worker's own error that Ray carried back, or one
naming the worker and the resume command); workers beside ``hf:`` actors take the CPUs those
leave; a worker gets no more than its even part of the plans."""

from __future__ import annotations

from pathlib import Path

from chatsim import AuthenticationError, ChatsimError, MissingCredentialError, QuotaExceededError
from chatsim.distributed._errors import failure_error, first_error, worker_error
from chatsim.distributed._slots import fair_take, workers_beside
from chatsim.distributed._worker import WorkerFailure
from chatsim.runner import RunCrashed


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


def test_a_worker_gets_no_more_than_its_even_part() -> None:
    # 24 episodes, 2 workers: the first one up asks for 128 and gets 12, then no more while
    # it holds them; once it is done with them, half of what is left.
    assert fair_take(128, unrecorded=24, live=2, held=0, queued=24) == 12
    assert fair_take(116, unrecorded=24, live=2, held=12, queued=12) == 0
    assert fair_take(128, unrecorded=12, live=2, held=0, queued=12) == 6
    # A large run: what it asks for.
    assert fair_take(128, unrecorded=100_000, live=16, held=64, queued=99_000) == 128
    assert fair_take(128, unrecorded=3, live=1, held=0, queued=3) == 3


def test_a_workers_reported_failure_is_raised_as_one_process_raises_it() -> None:
    run_dir, resume = Path("runs/r"), "chatsim run --resume runs/r --ray local"

    def raised(kind: str, episode: str = "e1") -> Exception:
        return failure_error(WorkerFailure(kind, episode, "it said why"), run_dir, 2, resume)

    quota = raised("quota")
    assert type(quota) is QuotaExceededError and str(quota) == "it said why"
    assert type(raised("auth")) is AuthenticationError
    start = raised("start", "")
    assert "a ray worker could not start (it said why)" in str(start)
    assert str(start).endswith(f"complete it with: {resume}")
    crash = raised("crash")
    assert isinstance(crash, RunCrashed) and "episode e1 failed unexpectedly" in str(crash)
