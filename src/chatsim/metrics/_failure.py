"""Whether a run failed: too many of a model's episodes ended in errors to trust its figures.

A model fails the run when more than ``max_error_share`` of its recorded episodes ended in an
error (target, simulator, timeout), and always when every one of them did. Errored episodes
are left out of accuracy, so past that share the accuracy describes other conversations than
the ones planned. The verdict names the dominant error kinds, with counts and one example
message each, so the first line of a failed run's summary says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatsim.recording._records import AttemptRecord, EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = ["ErrorKind", "RunFailure", "error_example", "error_kind", "failure_facts", "run_failure"]

_SHOWN_KINDS = 3
_EXAMPLE_CHARS = 300


class ErrorKind(BaseModel):
    """One kind of error that ended episodes."""

    model_config = ConfigDict(frozen=True)

    kind: str
    """The termination reason and, where a call failed, its error class and HTTP status, e.g.
    ``target_error: PermanentError, HTTP 404``."""
    episodes: int
    """Episodes that ended in it."""
    example: str
    """One of their (redacted) error messages."""


class RunFailure(BaseModel):
    """Why a run failed: the first thing its summary says."""

    model_config = ConfigDict(frozen=True)

    message: str
    """One line: how many episodes ended in errors, which models, and the threshold."""
    error_episodes: int
    """Episodes of the failing models that ended in errors."""
    episodes: int
    """Recorded episodes of the failing models."""
    max_error_share: float
    """The threshold (``RunConfig.max_error_share``)."""
    models: list[str]
    """The models over the threshold (or with every episode failed)."""
    kinds: list[ErrorKind]
    """The most frequent error kinds among them, most frequent first."""


def _failed_attempt(ep: EpisodeRecord) -> AttemptRecord | None:
    for turn in reversed(ep.turns):
        for attempt in reversed(turn.attempts):
            if attempt.outcome != "ok":
                return attempt
    return None


def error_kind(ep: EpisodeRecord) -> str:
    """``<termination>[: <error class>[, HTTP <status>]]`` of an errored episode."""
    attempt = _failed_attempt(ep)
    if attempt is None:
        return ep.termination.value
    detail = attempt.error_class or attempt.outcome
    if attempt.status_code is not None:
        detail += f", HTTP {attempt.status_code}"
    return f"{ep.termination.value}: {detail}"


def error_example(ep: EpisodeRecord) -> str:
    """The (redacted) message of an errored episode, cut to a readable length."""
    attempt = _failed_attempt(ep)
    text = ep.error or (attempt.error_message if attempt else None) or "(no message recorded)"
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def _kinds(errored: Frame) -> list[ErrorKind]:
    """The most frequent kinds, most frequent first (ties: first seen first)."""
    codes, labels = errored.codes("error_kind")
    found, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))[:_SHOWN_KINDS]
    return [
        ErrorKind(
            kind=labels[found[i]],
            episodes=int(counts[i]),
            example=errored.value("error_example", int(first[i])),
        )
        for i in order
    ]


def failure_facts(per_model: Mapping[str, Frame], max_error_share: float) -> RunFailure | None:
    """The run's failure, or None when every model is within ``max_error_share`` (the
    frames are of one facts table)."""
    failing: dict[str, tuple[int, int]] = {}
    errored: list[Frame] = []
    for model, frame in per_model.items():
        bad = frame.values("is_error")
        k, n = int(bad.sum()), len(frame)
        if n and (k == n or k > max_error_share * n):
            failing[model] = (k, n)
            errored.append(frame.where(bad))
    if not failing:
        return None
    every_error = errored[0].subset(np.concatenate([f.rows for f in errored]))
    total = sum(n for _, n in failing.values())
    shares = ", ".join(f"{m} {k}/{n}" for m, (k, n) in failing.items())
    every = " (every one)" if len(every_error) == total else ""
    message = (
        f"run failed: {len(every_error)} of {total} episodes ended in errors{every} ({shares}); "
        f"a model fails the run above {max_error_share * 100:g}% (max_error_share) or when all of "
        "its episodes fail"
    )
    return RunFailure(
        message=message,
        error_episodes=len(every_error),
        episodes=total,
        max_error_share=max_error_share,
        models=list(failing),
        kinds=_kinds(every_error),
    )


def run_failure(
    per_model: Mapping[str, Sequence[EpisodeRecord]], max_error_share: float
) -> RunFailure | None:
    """The run's failure, or None when every model is within ``max_error_share``."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    frame = frame_of([ep for eps in per_model.values() for ep in eps])
    frames, start = {}, 0
    for model, eps in per_model.items():
        frames[model] = frame.subset(np.arange(start, start + len(eps), dtype=np.int64))
        start += len(eps)
    return failure_facts(frames, max_error_share)
