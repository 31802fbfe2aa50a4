"""Per-episode facts: one row per episode holding everything a run summary or a comparison
needs from it, as a columnar ``pyarrow.Table`` (``FACTS_SCHEMA``).

Why: a run's summary at 1M episodes must not hold a million ``EpisodeRecord``s (turns,
attempts, texts). The facts are what the record walks of ``summarize`` extracted per episode
(``episode_behaviour``, ``call_timings``, ``episode_timing``, ``error_kind``, token tallies,
retry times), computed once by the same functions and kept as columns; every group-level
figure is then computed on columns (``_frame.Frame``). ``summarize(episodes)`` is
``summarize_facts(facts_table(episodes, stems))``: one implementation.

What is a fact and what is not: facts depend on the record alone, and on the question's stem
for ``copied_question`` (built with ``stems``; without it, null: "not checked"). Prices,
interval settings and ``errors_as_incorrect`` are the summary's arguments, applied to the
facts, so one cached table serves every report. Bump ``FACTS_VERSION`` whenever what is
extracted changes, so cached tables built by an older version are rebuilt.

List columns hold one value per target call (``call_*``: the answered assistant turns, in
order, as ``call_timings`` yields them) or per turn; ``*_retry_times`` keep each turn's retry
seconds (the zero ones left out) so that their totals add up in the record walk's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from chatsim.metrics._behaviour import episode_behaviour
from chatsim.metrics._failure import error_example, error_kind
from chatsim.metrics._latency import call_timings, episode_timing
from chatsim.metrics._recovery import RETRYABLE, retry_time
from chatsim.protocol._types import Role
from chatsim.recording._records import EpisodeRecord, TurnRecord

__all__ = ["FACTS_SCHEMA", "FACTS_VERSION", "episode_facts", "facts_table"]

#: Version of what ``episode_facts`` extracts (1: first version; 2: per-call and per-turn
#: times in float32).
FACTS_VERSION = 2

_TEXT = pa.dictionary(pa.int32(), pa.string())  # few distinct values: stored once each
# One value per call or turn (3 or 4 an episode, ten columns): float32 halves the largest
# part of the table (250 of 550 MB at 1M episodes). Its 24-bit mantissa keeps a duration to
# under a microsecond below 10 s, well inside what a latency figure shows; the figures are
# computed in float64 from these values.
_FLOATS = pa.list_(pa.float32())
_SUMS = pa.list_(pa.float64())  # retry times are added up: kept as recorded
_COUNT = pa.int32()  # counts per episode: half the memory of int64 at 1M rows

# The per-call figures of ``CallTiming`` kept as list columns (``call_<name>``).
CALL_FIELDS = ("queue", "ttft_sent", "ttft_requested", "e2e_sent", "e2e_requested", "tpot",
               "max_token_gap", "connect_time", "tokens_per_s")  # fmt: skip

FACTS_SCHEMA = pa.schema(
    [
        ("episode_id", pa.string()),
        ("schema_version", _COUNT),
        ("model", _TEXT),
        ("simulator", _TEXT),
        ("question_id", _TEXT),
        ("subject", _TEXT),
        ("repeat", pa.int64()),
        ("seed", pa.int64()),
        ("gold", _TEXT),
        ("final_answer", _TEXT),
        ("correct", pa.bool_()),
        ("termination", _TEXT),
        ("is_error", pa.bool_()),
        ("condition", _TEXT),
        ("initial_correct", pa.bool_()),
        ("user_messages", _COUNT),
        # behaviour (``episode_behaviour``)
        ("copied_question", pa.bool_()),
        ("last_stated", _TEXT),
        ("last_stated_correct", pa.bool_()),
        ("follows", pa.bool_()),
        ("changed", pa.bool_()),
        ("wrong_to_right", pa.bool_()),
        ("right_to_wrong", pa.bool_()),
        # timing (``episode_timing``, ``call_timings``)
        ("wall", pa.float64()),
        ("time_simulator", pa.float64()),
        ("time_target", pa.float64()),
        ("time_queue", pa.float64()),
        ("call_turn", pa.list_(pa.int32())),
        *[(f"call_{name}", _FLOATS) for name in CALL_FIELDS],
        ("user_turn_seconds", _FLOATS),
        # tokens (failed turns left out; see ``_cost``) and recovery (``_recovery``) per side
        *[
            (f"{side}_{name}", kind)
            for side in ("target", "simulator")
            for name, kind in [
                ("prompt_tokens", pa.int64()),
                ("completion_tokens", pa.int64()),
                ("calls_without_usage", _COUNT),
                ("calls", _COUNT),
                ("retried_calls", _COUNT),
                ("failed", pa.list_(pa.string())),
                ("retry_times", _SUMS),
            ]
        ],
        ("target_met_retryable", pa.bool_()),
        # the simulated user (``_simulator``)
        ("user_turns", _COUNT),
        ("context_trimmed_turns", _COUNT),
        ("empty_turns_resampled", _COUNT),
        # errors (``_failure``): set for error terminations only
        ("error_kind", pa.string()),
        ("error_example", pa.string()),
    ]
)
"""The columns of a facts table; ``episode_id`` first."""


def _tokens(turns: Iterable[TurnRecord]) -> tuple[int, int, int]:
    """(prompt, completion, replies without usage) of turns; failed turns have no reply."""
    prompt = completion = missing = 0
    for turn in turns:
        if turn.finish_reason == "error":
            continue
        if turn.usage is None:
            missing += 1
        else:
            prompt += turn.usage.prompt_tokens
            completion += turn.usage.completion_tokens
    return prompt, completion, missing


def _side(prefix: str, replies: list[TurnRecord], calls: list[TurnRecord]) -> dict[str, Any]:
    """Token facts of one side's replies and retry facts of its calls (``target_*`` or
    ``simulator_*``)."""
    prompt, completion, missing = _tokens(replies)
    tried = [t for t in calls if t.attempts]
    failed = [a.outcome for t in tried for a in t.attempts if a.outcome != "ok"]
    return {
        f"{prefix}_prompt_tokens": prompt,
        f"{prefix}_completion_tokens": completion,
        f"{prefix}_calls_without_usage": missing,
        f"{prefix}_calls": len(tried),
        f"{prefix}_retried_calls": sum(len(t.attempts) > 1 for t in tried),
        f"{prefix}_failed": failed,
        f"{prefix}_retry_times": [s for s in map(retry_time, tried) if s != 0.0],
    }


def episode_facts(record: EpisodeRecord, stem: str | None = None) -> dict[str, Any]:
    """One row of ``FACTS_SCHEMA`` for one episode; ``stem`` is its question's text, where
    known (for ``copied_question``)."""
    behaviour = episode_behaviour(record, stem)
    timing = episode_timing(record)
    calls = call_timings([record])
    users = [t for t in record.turns if t.role is Role.USER]
    assistants = [t for t in record.turns if t.role is Role.ASSISTANT]
    # Recovery puts every turn that is not the user's on the target's side.
    not_user = [t for t in record.turns if t.role is not Role.USER]
    errored = record.termination.is_error
    target = _side("target", assistants, not_user)
    return {
        "episode_id": record.episode_id,
        "schema_version": record.schema_version,
        "model": record.model,
        "simulator": record.simulator,
        "question_id": record.question_id,
        "subject": record.subject,
        "repeat": record.repeat,
        "seed": record.seed,
        "gold": record.gold,
        "final_answer": record.final_answer,
        "correct": record.correct,
        "termination": record.termination.value,
        "is_error": errored,
        "condition": record.condition,
        "initial_correct": record.initial_correct,
        "user_messages": record.user_messages,
        "copied_question": behaviour.copied_question,
        "last_stated": behaviour.last_stated,
        "last_stated_correct": behaviour.last_stated == record.gold,
        "follows": behaviour.follows,
        "changed": behaviour.changed,
        "wrong_to_right": behaviour.wrong_to_right,
        "right_to_wrong": behaviour.right_to_wrong,
        "wall": timing.wall,
        "time_simulator": timing.simulator,
        "time_target": timing.target,
        "time_queue": timing.queue,
        "call_turn": [c.turn for c in calls],
        **{f"call_{name}": [getattr(c, name) for c in calls] for name in CALL_FIELDS},
        "user_turn_seconds": [t.ended_at - t.started_at for t in users],
        **target,
        **_side("simulator", users, users),
        "target_met_retryable": any(o in RETRYABLE for o in target["target_failed"]),
        "user_turns": len(users),
        "context_trimmed_turns": sum(t.context_trimmed for t in users),
        "empty_turns_resampled": int(record.extra.get("empty_user_turns", 0)),
        "error_kind": error_kind(record) if errored else None,
        "error_example": error_example(record) if errored else None,
    }


def facts_table(
    records: Iterable[EpisodeRecord], stems: Mapping[str, str] | None = None
) -> pa.Table:
    """The facts of ``records``, one row each in their order (``stems``: question id ->
    question text, for the copied-question figure)."""
    stems = stems or {}
    rows = [episode_facts(r, stems.get(r.question_id)) for r in records]
    return pa.Table.from_pylist(rows, schema=FACTS_SCHEMA)
