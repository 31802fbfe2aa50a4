"""Optional judge scoring of conversations: coherence and user satisfaction, 1–5.

A judge model reads each transcript with the rubric below and returns JSON scores. Scores go
to ``judge.jsonl`` (one ``JudgeRecord`` per episode and judge) and are reported on their own:
they never enter accuracy. LLM judges are biased (towards long, confident replies, and towards
their own family of models), so treat them as a second opinion, and say which judge scored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from chatsim._exceptions import AuthenticationError, DataError, TargetError
from chatsim._util._redact import scrub
from chatsim.metrics._stats import Interval, cluster_bootstrap_interval
from chatsim.protocol import Message, Role
from chatsim.recording._records import EpisodeRecord
from chatsim.targets import TargetCaller, TargetRequest

__all__ = [
    "JUDGE_FILE",
    "RUBRIC",
    "RUBRIC_VERSION",
    "JudgeRecord",
    "JudgeSummary",
    "current_judgements",
    "judge_episodes",
    "judge_summary",
    "parse_scores",
    "read_judge",
]

JUDGE_FILE = "judge.jsonl"
RUBRIC_VERSION = "chatsim-judge-v1"
RUBRIC = """\
You are grading a conversation between a USER and an AI ASSISTANT. The user was working on a
multiple-choice question and talked to the assistant to answer it. Grade the ASSISTANT only.

Coherence (1-5): is each assistant reply clear, logically consistent, on topic, and
consistent with its earlier replies (changing its answer is fine when it explains why)?
  5 = clear and consistent throughout; 4 = minor lapses; 3 = some confusing or inconsistent
  replies; 2 = often confusing, contradicts itself without explanation; 1 = incoherent.

User satisfaction (1-5): how satisfied would this user plausibly be with the help received,
judged from the conversation (did the assistant address what the user asked, at the right
level of detail, without needless padding)? Do not judge whether the final answer is correct.
  5 = fully helped; 4 = mostly; 3 = partly; 2 = little; 1 = not at all or counterproductive.

Reply with one JSON object and nothing else:
{"coherence": <1-5>, "satisfaction": <1-5>, "rationale": "<one or two sentences>"}"""


class JudgeRecord(BaseModel):
    """One judge's scores for one episode. One line of ``judge.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    episode_id: str
    model: str
    """The target model of the judged episode."""
    question_id: str
    judge: str
    """The judge's model spec."""
    rubric_version: str = RUBRIC_VERSION
    coherence: int | None
    satisfaction: int | None
    rationale: str = ""
    raw: str = ""
    """The judge's reply as received."""
    error: str | None = None
    """Why there are no scores (call failed, reply not parseable)."""
    episode_ended_at: float | None = None
    """When the judged episode ended: tells a judgement of an episode since re-run
    (``--retry-errors``) from one of its current record. None in older files."""


_JSON = re.compile(r"\{.*\}", re.DOTALL)


def parse_scores(text: str) -> tuple[int, int, str] | None:
    """(coherence, satisfaction, rationale) from a judge reply, or None when not valid."""
    match = _JSON.search(text)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
        scores = (int(data["coherence"]), int(data["satisfaction"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not all(1 <= s <= 5 for s in scores):
        return None
    return scores[0], scores[1], str(data.get("rationale", ""))


def judge_messages(ep: EpisodeRecord) -> tuple[Message, ...]:
    """The rubric as system prompt and the transcript as the user message."""
    lines = [f"{t.role.value.upper()}: {t.text}" for t in ep.turns]
    transcript = "\n\n".join(lines) or "(empty conversation)"
    return (Message(Role.SYSTEM, RUBRIC), Message(Role.USER, f"CONVERSATION:\n\n{transcript}"))


async def _judge_one(ep: EpisodeRecord, caller: TargetCaller, judge: str) -> JudgeRecord:
    common = {"episode_id": ep.episode_id, "model": ep.model, "question_id": ep.question_id,
              "judge": judge, "episode_ended_at": ep.ended_at}  # fmt: skip
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


def read_judge(run_dir: Path | str) -> list[JudgeRecord]:
    """``judge.jsonl`` of a run, [] when absent; a torn last line is skipped. One record per
    judge and episode: the latest (a later ``--judge`` run re-scores failed ones)."""
    path = Path(run_dir) / JUDGE_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    latest: dict[tuple[str, str], JudgeRecord] = {}
    for number, line in enumerate(lines, start=1):
        try:
            record = JudgeRecord.model_validate_json(line)
        except ValidationError as exc:
            if number == len(lines):
                break
            raise DataError(f"{path}:{number} is not a valid judge record: {exc}") from exc
        key = (record.judge, record.episode_id)
        latest.pop(key, None)  # keep file order of the latest records
        latest[key] = record
    return list(latest.values())


def current_judgements(
    records: Sequence[JudgeRecord], episodes: Sequence[EpisodeRecord]
) -> list[JudgeRecord]:
    """The judgements of the episodes as recorded now: one of an episode that was re-run
    since (or is gone) is out of date and left out."""
    ended = {ep.episode_id: ep.ended_at for ep in episodes}
    return [
        r
        for r in records
        if r.episode_id in ended
        and (r.episode_ended_at is None or r.episode_ended_at == ended[r.episode_id])
    ]


def scored_by(records: Sequence[JudgeRecord], judge: str) -> set[str]:
    """Episode ids that ``judge`` has answered for. A judgement that failed on the way (no
    reply: an error after the caller's retries) is not, and is tried again; a reply without
    valid scores is kept (the judge runs at temperature 0: asking again would pay for the
    same answer)."""
    return {r.episode_id for r in records if r.judge == judge and (r.error is None or r.raw)}


class JudgeSummary(BaseModel):
    """Mean judge scores of one model, with question-clustered intervals."""

    model_config = ConfigDict(frozen=True)

    model: str
    judge: str
    scored: int
    failed: int
    coherence: float | None
    coherence_ci: Interval
    satisfaction: float | None
    satisfaction_ci: Interval


def _mean_ci(records: Sequence[JudgeRecord], field: str) -> tuple[float | None, Interval]:
    per_q: dict[str, list[int]] = {}
    for r in records:
        per_q.setdefault(r.question_id, []).append(getattr(r, field))
    values = np.array([np.mean(v) for v in per_q.values()], dtype=np.float64)
    return (float(values.mean()) if len(values) else None), cluster_bootstrap_interval(values)


def judge_summary(records: Sequence[JudgeRecord]) -> list[JudgeSummary]:
    """Per (model, judge): mean scores over questions, cluster-bootstrap intervals."""
    out = []
    for key in dict.fromkeys((r.model, r.judge) for r in records):
        mine = [r for r in records if (r.model, r.judge) == key]
        ok = [r for r in mine if r.error is None]
        coherence, coherence_ci = _mean_ci(ok, "coherence")
        satisfaction, satisfaction_ci = _mean_ci(ok, "satisfaction")
        out.append(
            JudgeSummary(model=key[0], judge=key[1], scored=len(ok), failed=len(mine) - len(ok),
                         coherence=coherence, coherence_ci=coherence_ci,
                         satisfaction=satisfaction, satisfaction_ci=satisfaction_ci)
        )  # fmt: skip
    return out
