"""A reply's timing is one value, recorded by one builder per record, into the flat fields."""

from __future__ import annotations

from chatsim.recording import AttemptRecord, ReplyTiming, TurnRecord
from chatsim.targets import AdapterReply

CALLER_ONLY = {"ended_at"}
"""Timings the caller uses (clamping the attempt's end) instead of recording them as they are."""


def _timing() -> ReplyTiming:
    # A distinct value per field, so that each one can be found in the records.
    return ReplyTiming(**{name: 100.0 + i for i, name in enumerate(ReplyTiming._fields)})


def _records(timing: ReplyTiming) -> tuple[AttemptRecord, TurnRecord]:
    attempt = AttemptRecord.succeeded(
        index=0, started_at=1.0, ended_at=2.0, timing=timing, request_id="r",
        rate_limit_headers={},
    )  # fmt: skip
    turn = TurnRecord.assistant(
        index=1, text="B", requested_at=0.5, started_at=1.0, ended_at=2.0, timing=timing,
        queue_time=0.5, usage=None, attempts=[attempt], finish_reason="stop",
    )  # fmt: skip
    return attempt, turn


def test_every_timing_lands_in_a_record_field_of_its_name() -> None:
    timing = _timing()
    attempt, turn = _records(timing)
    recorded = {**turn.model_dump(exclude={"attempts"}), **attempt.model_dump()}
    for name in set(ReplyTiming._fields) - CALLER_ONLY:
        assert recorded.get(name) == getattr(timing, name), name


def test_the_builders_write_the_same_json_as_flat_construction() -> None:
    timing = _timing()
    attempt, turn = _records(timing)
    flat_attempt = AttemptRecord(
        index=0, started_at=1.0, sent_at=timing.sent_at, connect_time=timing.connect_time,
        ended_at=2.0, outcome="ok", request_id="r",
    )  # fmt: skip
    assert attempt.model_dump_json() == flat_attempt.model_dump_json()
    flat_turn = TurnRecord(
        index=1, role="assistant", text="B", requested_at=0.5, started_at=1.0,
        first_token_at=timing.first_token_at, max_token_gap=timing.max_token_gap, ended_at=2.0,
        queue_time=0.5, attempts=[flat_attempt], finish_reason="stop",
    )  # fmt: skip
    assert turn.model_dump_json() == flat_turn.model_dump_json()


def test_a_reply_without_timings_shares_one_immutable_value() -> None:
    first, second = AdapterReply(text="a"), AdapterReply(text="b")
    assert first.timing is second.timing == ReplyTiming()
    assert not hasattr(first.timing, "__dict__")
