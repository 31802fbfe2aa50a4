"""Every chatsim error survives ``pickle`` with its type, message and attributes: Ray ships an
actor's exception to the driver by pickling it, and one that does not come back whole arrives
as Ray's ``UnserializableException``, losing what to fix (the variable to set, the extra to
install, the valid names)."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from chatsim import _exceptions as errors
from chatsim.distributed._placement import ActorNotPlaced
from chatsim.distributed._slots import WorkersLost
from chatsim.metrics._comparable import Difference, IncomparableRunsError
from chatsim.runner._run import RunCrashed, RunInterrupted
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.targets._retry import ConnectTimeoutError, DeadlineExceededError

_http = {"status_code": 429, "request_id": "req-1", "headers": {"retry-after": "2"}}
_result = SimpleNamespace(run_dir=Path("runs/r1"), summary=SimpleNamespace(failure=None))
_difference = Difference(field="simulator", a_run="a", a="scripted", b_run="b", b="hf:x")

# Every subclass, wherever it is defined (importing these modules defines them all).
SAMPLES: dict[type[errors.ChatsimError], errors.ChatsimError] = {
    errors.ChatsimError: errors.ChatsimError("root"),
    errors.ConfigError: errors.ConfigError("bad option"),
    errors.UnknownNameError: errors.UnknownNameError("model", "gtp-4o", ["gpt-4o", "o3"]),
    errors.MissingCredentialError: errors.MissingCredentialError("OPENAI_API_KEY", "openai"),
    errors.MissingDependencyError: errors.MissingDependencyError(
        "ray", "ray", "--ray", hint="or run without --ray"
    ),
    IncomparableRunsError: IncomparableRunsError("runs differ", [_difference]),
    errors.DataError: errors.DataError("bad line"),
    errors.RunDirectoryError: errors.RunDirectoryError("not a run"),
    errors.TargetError: errors.TargetError("boom", **_http),  # type: ignore[arg-type]
    errors.RateLimitError: errors.RateLimitError("slow down", retry_after=2.5, **_http),
    errors.TransientError: errors.TransientError("503", retry_after=1.0, status_code=503),
    errors.AttemptTimeoutError: errors.AttemptTimeoutError("attempt timed out"),
    DeadlineExceededError: DeadlineExceededError("the episode deadline had passed"),
    ConnectTimeoutError: ConnectTimeoutError("connect timed out"),
    errors.PermanentError: errors.PermanentError("context length", status_code=400),
    errors.AuthenticationError: errors.AuthenticationError("refused", status_code=401),
    errors.QuotaExceededError: errors.QuotaExceededError("quota spent", status_code=429),
    errors.SimulatorError: errors.SimulatorError("no turn", attempts=[{"index": 0}]),
    BatchItemErrors: BatchItemErrors([errors.SimulatorError("one"), errors.SimulatorError("two")]),
    errors.RunFailedError: errors.RunFailedError(_result),
    RunCrashed: RunCrashed(Path("runs/r1"), "ep-1", ValueError("bug")),
    RunInterrupted: RunInterrupted(Path("runs/r1")),
    ActorNotPlaced: ActorNotPlaced("worker not placed within 60 s"),
    WorkersLost: WorkersLost("ray worker died"),
}


def _hierarchy(root: type[errors.ChatsimError]) -> list[type[errors.ChatsimError]]:
    found = [root]
    for sub in root.__subclasses__():
        found += [c for c in _hierarchy(sub) if c not in found]
    return found


def _attributes(error: BaseException) -> dict[str, object]:
    return {k: v for k, v in vars(error).items() if k != "results"}


def test_every_chatsim_error_has_a_sample() -> None:
    # A new subclass fails here until it is added to SAMPLES (and so tested below).
    missing = [c.__qualname__ for c in _hierarchy(errors.ChatsimError) if c not in SAMPLES]
    assert missing == []


@pytest.mark.parametrize("error", list(SAMPLES.values()), ids=lambda e: type(e).__name__)
def test_it_round_trips_through_pickle(error: errors.ChatsimError) -> None:
    error.add_note("raised on worker 3")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.args == error.args
    assert _attributes(back) == _attributes(error)
    assert back.__notes__ == ["raised on worker 3"]


def test_what_to_fix_comes_back() -> None:
    unknown = pickle.loads(pickle.dumps(SAMPLES[errors.UnknownNameError]))
    assert isinstance(unknown, errors.UnknownNameError)
    assert (unknown.kind, unknown.name, unknown.valid) == ("model", "gtp-4o", ("gpt-4o", "o3"))
    missing = pickle.loads(pickle.dumps(SAMPLES[errors.MissingCredentialError]))
    assert isinstance(missing, errors.MissingCredentialError)
    assert missing.variable == "OPENAI_API_KEY"
    limited = pickle.loads(pickle.dumps(SAMPLES[errors.RateLimitError]))
    assert isinstance(limited, errors.RateLimitError)
    assert (limited.retry_after, limited.status_code, limited.headers) == (
        2.5,
        429,
        {"retry-after": "2"},
    )
    batch = pickle.loads(pickle.dumps(SAMPLES[BatchItemErrors]))
    assert isinstance(batch, BatchItemErrors)
    assert [str(r) for r in batch.results] == ["one", "two"]
