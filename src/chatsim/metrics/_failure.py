"""Whether a run failed: too many of a model's episodes ended in errors to trust its figures.

A model fails the run when more than ``max_error_share`` of its recorded episodes ended in an
error (target, simulator, timeout), and always when every one of them did. Errored episodes
are left out of accuracy, so past that share the accuracy describes other conversations than
the ones planned. The verdict names the dominant error kinds, with counts and one example
message each, so the first line of a failed run's summary says what to fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from chatsim.recording._records import AttemptRecord, EpisodeRecord

__all__ = ["ErrorKind", "RunFailure", "error_kind", "run_failure"]

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


def _example(ep: EpisodeRecord) -> str:
    attempt = _failed_attempt(ep)
    text = ep.error or (attempt.error_message if attempt else None) or "(no message recorded)"
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def _kinds(errored: Sequence[EpisodeRecord]) -> list[ErrorKind]:
    counts = Counter(error_kind(ep) for ep in errored)
    examples: dict[str, str] = {}
    for ep in errored:
        examples.setdefault(error_kind(ep), _example(ep))
    return [
        ErrorKind(kind=kind, episodes=n, example=examples[kind])
        for kind, n in counts.most_common(_SHOWN_KINDS)
    ]


def run_failure(
    per_model: Mapping[str, Sequence[EpisodeRecord]], max_error_share: float
) -> RunFailure | None:
    """The run's failure, or None when every model is within ``max_error_share``."""
    failing: dict[str, tuple[int, int]] = {}
    errored: list[EpisodeRecord] = []
    for model, episodes in per_model.items():
        bad = [ep for ep in episodes if ep.termination.is_error]
        n = len(episodes)
        if n and (len(bad) == n or len(bad) > max_error_share * n):
            failing[model] = (len(bad), n)
            errored += bad
    if not failing:
        return None
    total = sum(n for _, n in failing.values())
    shares = ", ".join(f"{m} {k}/{n}" for m, (k, n) in failing.items())
    every = " (every one)" if len(errored) == total else ""
    message = (
        f"run failed: {len(errored)} of {total} episodes ended in errors{every} ({shares}); "
        f"a model fails the run above {max_error_share * 100:g}% (max_error_share) or when all of "
        "its episodes fail"
    )
    return RunFailure(
        message=message,
        error_episodes=len(errored),
        episodes=total,
        max_error_share=max_error_share,
        models=list(failing),
        kinds=_kinds(errored),
    )
