"""Records to columns: one row per conversation and one per target call, as numpy arrays.

Streaming: the summary of a million-call run reads ``episodes.jsonl`` one line at a time and
keeps only these columns (a few dozen bytes per call), never the records themselves. The
per-call latencies come from ``chatsim.metrics.call_timings`` (one definition for the whole
project); this module only adds the conversation's start lag for the *scheduled* basis.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatsim.metrics import call_timings, is_answered
from chatsim.protocol import Role
from chatsim.recording import EPISODE_RECORDS, EpisodeRecord

__all__ = ["CallColumns", "ConversationColumns", "extract", "iter_episodes"]

_NAN = math.nan


@dataclass(frozen=True)
class ConversationColumns:
    stage: np.ndarray
    scheduled_at: np.ndarray
    started_at: np.ndarray
    ended_at: np.ndarray
    error: np.ndarray
    correct: np.ndarray
    max_ttft_sent: np.ndarray
    """Worst TTFT among the conversation's successful calls (nan: none streamed)."""
    max_ttft_scheduled: np.ndarray
    max_e2e_sent: np.ndarray
    max_e2e_scheduled: np.ndarray

    @property
    def start_lag(self) -> np.ndarray:
        lag: np.ndarray = np.maximum(0.0, self.started_at - self.scheduled_at)
        return lag


@dataclass(frozen=True)
class CallColumns:
    stage: np.ndarray
    ended_at: np.ndarray
    failed: np.ndarray
    ttft_sent: np.ndarray
    """nan for failed or unstreamed calls."""
    ttft_scheduled: np.ndarray
    e2e_sent: np.ndarray
    """nan for failed calls."""
    e2e_scheduled: np.ndarray
    max_token_gap: np.ndarray
    """The reply's longest pause between streamed chunks; nan when none was measured."""
    connect: np.ndarray
    """Seconds opening a new connection; nan on a reused one (or a failed call)."""


def iter_episodes(run_dir: Path) -> Iterator[EpisodeRecord]:
    """Every record of ``episodes.jsonl``, one at a time, through the run directory's one
    reader: a torn last line is skipped, a damaged line elsewhere is refused naming
    ``chatsim repair``."""
    for _, episode in EPISODE_RECORDS.read(run_dir):
        yield episode


def _nanmax(values: list[float]) -> float:
    present = [v for v in values if not math.isnan(v)]
    return max(present) if present else _NAN


def extract(episodes: Iterable[EpisodeRecord]) -> tuple[ConversationColumns, CallColumns]:
    """Columns of the conversations and calls in ``episodes`` (stage 0 for plain records)."""
    conv = array("d")  # flat rows: a few dozen bytes per call, whatever the run's size
    calls = array("d")
    for ep in episodes:
        load = ep.extra.get("load") or {}
        stage = int(load.get("stage", 0))
        scheduled = float(load.get("scheduled_at", ep.started_at))
        lag = max(0.0, ep.started_at - scheduled)
        assistant = [t for t in ep.turns if t.role is Role.ASSISTANT]
        mine: list[tuple[float, ...]] = []
        timings = iter(call_timings([ep]))  # one per answered turn, in order
        for turn in assistant:
            if not is_answered(turn):
                mine.append((stage, turn.ended_at, 1.0, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN))
                continue
            timing = next(timings)
            extra = lag if timing.turn == 0 else 0.0
            ttft_sent = _NAN if timing.ttft_sent is None else timing.ttft_sent
            ttft_req = _NAN if timing.ttft_requested is None else timing.ttft_requested + extra
            gap = _NAN if timing.max_token_gap is None else timing.max_token_gap
            connect = _NAN if timing.connect_time is None else timing.connect_time
            mine.append(
                (stage, turn.ended_at, 0.0, ttft_sent, ttft_req, timing.e2e_sent,
                 timing.e2e_requested + extra, gap, connect)
            )  # fmt: skip
        for row in mine:
            calls.extend(row)
        conv.extend(
            (
                stage,
                scheduled,
                ep.started_at,
                ep.ended_at,
                float(ep.termination.is_error),
                float(ep.correct),
                _nanmax([c[3] for c in mine]),
                _nanmax([c[4] for c in mine]),
                _nanmax([c[5] for c in mine]),
                _nanmax([c[6] for c in mine]),
            )
        )
    c = np.array(conv, dtype=np.float64).reshape(-1, 10)
    k = np.array(calls, dtype=np.float64).reshape(-1, 9)
    del conv, calls
    conversations = ConversationColumns(
        stage=c[:, 0].astype(np.int64), scheduled_at=c[:, 1], started_at=c[:, 2],
        ended_at=c[:, 3], error=c[:, 4] > 0, correct=c[:, 5] > 0, max_ttft_sent=c[:, 6],
        max_ttft_scheduled=c[:, 7], max_e2e_sent=c[:, 8], max_e2e_scheduled=c[:, 9],
    )  # fmt: skip
    call_columns = CallColumns(
        stage=k[:, 0].astype(np.int64), ended_at=k[:, 1], failed=k[:, 2] > 0,
        ttft_sent=k[:, 3], ttft_scheduled=k[:, 4], e2e_sent=k[:, 5], e2e_scheduled=k[:, 6],
        max_token_gap=k[:, 7], connect=k[:, 8],
    )  # fmt: skip
    return conversations, call_columns
