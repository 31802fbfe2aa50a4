"""Terse builders of EpisodeRecords for metric tests (shared by tests/report and tests/baseline)."""

from __future__ import annotations

from typing import Any

from chatsim.protocol._types import Role, TerminationReason
from chatsim.recording._records import AttemptRecord, EpisodeRecord, TurnRecord, Usage


def user(index: int, text: str, start: float, end: float, **kw: Any) -> TurnRecord:
    return TurnRecord(
        index=index, role=Role.USER, text=text, requested_at=start, started_at=start,
        ended_at=end, **kw,
    )  # fmt: skip


def assistant(
    index: int,
    text: str,
    start: float,
    end: float,
    *,
    first: float | None = None,
    queue: float = 0.0,
    usage: tuple[int, int] | None = None,
    attempts: list[AttemptRecord] | None = None,
) -> TurnRecord:
    """An assistant turn requested at ``start - queue``, sent at ``start``."""
    return TurnRecord(
        index=index,
        role=Role.ASSISTANT,
        text=text,
        requested_at=start - queue,
        started_at=start,
        first_token_at=first,
        ended_at=end,
        queue_time=queue,
        usage=None if usage is None else Usage(prompt_tokens=usage[0], completion_tokens=usage[1]),
        attempts=attempts or [],
    )


def attempt(index: int, start: float, end: float, outcome: str = "ok", **kw: Any) -> AttemptRecord:
    return AttemptRecord(index=index, started_at=start, ended_at=end, outcome=outcome, **kw)  # type: ignore[arg-type]


def episode(
    model: str = "m",
    qid: str = "q1",
    correct: bool = True,
    *,
    subject: str = "math",
    repeat: int = 0,
    termination: TerminationReason = TerminationReason.ANSWERED,
    user_messages: int = 1,
    gold: str = "A",
    answer: str | None = "auto",
    turns: list[TurnRecord] | None = None,
    start: float = 0.0,
    end: float = 1.0,
    seed: int | None = None,
    extra: dict[str, Any] | None = None,
) -> EpisodeRecord:
    if answer == "auto":
        error = termination.is_error or termination is TerminationReason.INVALID_ANSWER
        answer = None if error else (gold if correct else ("B" if gold != "B" else "C"))
    return EpisodeRecord(
        run_id="run",
        episode_id=f"{model}|{qid}|{repeat}",
        model=model,
        simulator="scripted",
        question_id=qid,
        subject=subject,
        repeat=repeat,
        seed=repeat if seed is None else seed,
        gold=gold,
        turns=turns or [],
        final_answer=answer,
        answer_method="explicit" if answer else "none",
        correct=answer == gold,
        termination=termination,
        user_messages=user_messages,
        started_at=start,
        ended_at=end,
        error="boom" if termination.is_error else None,
        extra=extra or {},
    )


def outcomes(model: str, spec: dict[str, list[int]], subject: str = "math") -> list[EpisodeRecord]:
    """``{"q1": [1, 0], ...}`` -> one episode per repeat, correct where 1."""
    return [
        episode(model, qid, bool(c), subject=subject, repeat=r)
        for qid, results in spec.items()
        for r, c in enumerate(results)
    ]
