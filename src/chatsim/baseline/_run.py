"""``run_baseline``: every model answers every question alone, in each mode, ``repeats`` times.

Calls go through each model's ``TargetCaller`` (the core's retries, rate limits and
concurrency); a call that fails for good is recorded with its error and no answer, except an
authentication failure, which stops the baseline (as it stops a run).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio

from chatsim._exceptions import AuthenticationError, ChatsimError, ConfigError, TargetError
from chatsim._util._redact import scrub
from chatsim.baseline._prompts import baseline_messages, extract_answer
from chatsim.baseline._records import BaselineMode, BaselineRecord
from chatsim.questions import Question
from chatsim.recording import JsonlWriter
from chatsim.targets import TargetCaller, TargetRequest

__all__ = ["ALL_MODES", "BaselineWriter", "baseline_key", "run_baseline"]

ALL_MODES: tuple[BaselineMode, ...] = ("zero_shot", "five_shot", "free_text")

Key = tuple[str, str, str, int]


def baseline_key(record: BaselineRecord) -> Key:
    """(model, question id, mode, repeat): what resume skips."""
    return (record.model, record.question_id, record.mode, record.repeat)


class _Sink(Protocol):
    def append(self, record: BaselineRecord) -> Any: ...


class BaselineWriter(JsonlWriter):
    """Appends records to ``baseline.jsonl``: the run directory's crash-safe JSON-lines writer
    (one flushed line per record; a torn tail is cut on open)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(Path(path))


def _dev_sets(
    questions: Sequence[Question],
    modes: Sequence[BaselineMode],
    dev_examples: Callable[[str], Sequence[Question]],
) -> dict[str, Sequence[Question]]:
    if "five_shot" not in modes:
        return {}
    out = {}
    for subject in sorted({q.subject for q in questions}):
        try:
            out[subject] = dev_examples(subject)
        except ChatsimError as exc:
            raise ConfigError(
                f"the five_shot baseline needs MMLU dev examples, and subject {subject!r} has "
                f"none ({exc}); leave five_shot out of the baseline modes"
            ) from exc
    return out


def _default_dev_examples(subject: str) -> Sequence[Question]:
    from chatsim.questions import load_dev_examples

    return load_dev_examples(subject)


async def _one(
    caller: TargetCaller, label: str, q: Question, mode: BaselineMode, repeat: int,
    request: TargetRequest,
) -> BaselineRecord:  # fmt: skip
    common = {"model": label, "question_id": q.id, "subject": q.subject, "mode": mode,
              "repeat": repeat, "gold": q.gold}  # fmt: skip
    try:
        reply = await caller.call(request)
    except AuthenticationError:
        raise
    except TargetError as exc:
        attempts = list(getattr(exc, "attempts", []))
        start = attempts[0].started_at if attempts else 0.0
        end = attempts[-1].ended_at if attempts else start
        return BaselineRecord(
            **common, answer=None, correct=False, text="", requested_at=start, started_at=start,
            ended_at=end, attempts=max(1, len(attempts)), error=scrub(str(exc))[:500],
        )  # fmt: skip
    answer = extract_answer(reply.text, mode)
    return BaselineRecord(
        **common, answer=answer, correct=answer == q.gold, text=reply.text, usage=reply.usage,
        requested_at=reply.requested_at, started_at=reply.started_at,
        first_token_at=reply.timing.first_token_at, ended_at=reply.ended_at,
        attempts=len(reply.attempts) or 1,
    )  # fmt: skip


async def run_baseline(
    questions: Sequence[Question],
    callers: Mapping[str, TargetCaller],
    modes: Sequence[BaselineMode] = ALL_MODES,
    repeats: int = 1,
    writer: _Sink | Callable[[BaselineRecord], Any] | None = None,
    *,
    temperature: float | None = 0.7,
    max_tokens: int | None = None,
    system_prompt: str | None = "You are a helpful AI assistant.",
    done: Collection[Key] = (),
    dev_examples: Callable[[str], Sequence[Question]] = _default_dev_examples,
    max_in_flight: int = 256,
) -> list[BaselineRecord]:
    """Measure each model alone on ``questions``; returns (and writes) one record per answer.

    ``writer`` gets each record as it finishes (``BaselineWriter`` or any callable); ``done``
    holds ``baseline_key``s already recorded (resume). Bad modes or missing dev examples fail
    before anything is sent.
    """
    bad = [m for m in modes if m not in ALL_MODES]
    if bad:
        raise ConfigError(f"unknown baseline mode {bad[0]!r}; valid modes: {', '.join(ALL_MODES)}")
    dev = _dev_sets(questions, modes, dev_examples)
    sink = writer.append if writer is not None and hasattr(writer, "append") else writer
    records: list[BaselineRecord] = []
    refused: list[AuthenticationError] = []
    limiter = anyio.CapacityLimiter(max_in_flight)

    async def task(label: str, q: Question, mode: BaselineMode, repeat: int) -> None:
        messages = baseline_messages(
            q, mode, dev_examples=dev.get(q.subject, ()), system_prompt=system_prompt
        )
        request = TargetRequest(messages=messages, temperature=temperature, max_tokens=max_tokens)
        try:
            async with limiter:
                record = await _one(callers[label], label, q, mode, repeat, request)
        except AuthenticationError as exc:  # stop everything, raise it plainly below
            refused.append(exc)
            tg.cancel_scope.cancel()
            return
        records.append(record)
        if sink is not None:
            sink(record)

    async with anyio.create_task_group() as tg:
        for label in callers:
            for q in questions:
                for mode in modes:
                    for repeat in range(repeats):
                        if (label, q.id, mode, repeat) not in done:
                            tg.start_soon(task, label, q, mode, repeat)
    if refused:
        raise refused[0]
    return records
