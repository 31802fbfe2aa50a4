"""Calling the judge: score episodes through a ``TargetCaller``, append to ``judge.jsonl``.

The judge is a target like any other, so it gets the core's retries, rate limits and
timeouts. A call that fails for good is recorded with its error (and tried again by the next
judge run); an authentication failure stops the judging, as it stops a run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import anyio

from chatsim._exceptions import AuthenticationError, TargetError
from chatsim._util._redact import scrub
from chatsim.judge._read import scored_by
from chatsim.judge._rubric import RUBRIC_VERSION, judge_messages, parse_scores
from chatsim.recording import JUDGE_FILE, EpisodeRecord, JsonlWriter, JudgeRecord
from chatsim.targets import TargetCaller, TargetRequest, build_caller

__all__ = ["judge_caller", "judge_episodes", "judge_run"]


def judge_caller(spec: str, *, base_url: str | None = None) -> TargetCaller:
    """The caller the judge ``spec`` is asked through; the caller of this function closes it.

    The one place the judge turns a model spec into something that sends requests, through
    ``build_caller``: ``base_url`` (``--judge-base-url``) is for self-hosted judges, and a
    hosted judge (``gpt-4o``) refuses it rather than send its key there.
    """
    return build_caller(spec, endpoint=base_url)


async def _judge_one(ep: EpisodeRecord, caller: TargetCaller, judge: str) -> JudgeRecord:
    common = {"episode_id": ep.episode_id, "model": ep.model, "question_id": ep.question_id,
              "judge": judge, "rubric_version": RUBRIC_VERSION,
              "episode_ended_at": ep.ended_at}  # fmt: skip
    request = TargetRequest(messages=judge_messages(ep), temperature=0.0, stream=False)
    try:
        reply = await caller.call(request)
    except AuthenticationError:
        raise
    except TargetError as exc:
        return JudgeRecord(**common, coherence=None, satisfaction=None, error=scrub(str(exc)))
    scores = parse_scores(reply.text)
    if scores is None:
        return JudgeRecord(**common, coherence=None, satisfaction=None, raw=reply.text,
                           error="the judge's reply held no valid scores")  # fmt: skip
    return JudgeRecord(**common, coherence=scores[0], satisfaction=scores[1],
                       rationale=scores[2], raw=reply.text)  # fmt: skip


async def judge_episodes(
    episodes: Sequence[EpisodeRecord],
    caller: TargetCaller,
    judge: str,
    writer: Callable[[JudgeRecord], Any] | None = None,
    *,
    done: Collection[str] = (),
    max_in_flight: int = 64,
) -> list[JudgeRecord]:
    """Score every episode not in ``done`` (episode ids); ``writer`` gets each record."""
    records: list[JudgeRecord] = []
    limiter = anyio.CapacityLimiter(max_in_flight)

    async def task(ep: EpisodeRecord) -> None:
        async with limiter:
            record = await _judge_one(ep, caller, judge)
        records.append(record)
        if writer is not None:
            writer(record)

    async with anyio.create_task_group() as tg:
        for ep in episodes:
            if ep.episode_id not in done and ep.turns:
                tg.start_soon(task, ep)
    return records


async def judge_run(
    run_dir: Path,
    episodes: Sequence[EpisodeRecord],
    judge: str,
    *,
    judged: Sequence[JudgeRecord] = (),
    base_url: str | None = None,
) -> list[JudgeRecord]:
    """Judge the run's ``episodes`` that ``judge`` has not answered for in ``judged`` (the
    run's current judgements); append each record to ``RUN_DIR/judge.jsonl`` as it comes."""
    caller = judge_caller(judge, base_url=base_url)
    done = scored_by(judged, judge)  # failed judgements are tried again
    try:
        # Appends one flushed line per record, after cutting a line an earlier run died in.
        with JsonlWriter(Path(run_dir) / JUDGE_FILE) as writer:
            return await judge_episodes(episodes, caller, judge, writer.append, done=done)
    finally:
        await caller.aclose()
