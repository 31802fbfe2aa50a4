"""Reading ``judge.jsonl`` back: the latest judgement per judge and episode, kept current.

A later ``chatsim report --judge`` run appends (it re-scores judgements that failed on the way),
and ``--retry-errors`` can re-run an episode after it was judged, so the file holds history;
these functions pick what still counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chatsim.recording import JUDGE_RECORDS, EpisodeRecord, JudgeRecord

__all__ = ["current_judgements", "read_judge", "scored_by"]


def read_judge(run_dir: Path | str) -> list[JudgeRecord]:
    """``judge.jsonl`` of a run, [] when absent; a torn last line is skipped, a damaged line
    elsewhere raises a ``RunDirectoryError`` that names ``chatsim repair``.

    One record per judge and episode: the latest (a later ``--judge`` run re-scores failed
    ones), in the file order of the latest records.
    """
    latest: dict[tuple[str, str], JudgeRecord] = {}
    for _, record in JUDGE_RECORDS.read(run_dir):
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
