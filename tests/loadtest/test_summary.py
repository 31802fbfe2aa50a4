"""The summary's arithmetic against hand-computed values: goodput, rates, objectives."""

from __future__ import annotations

from array import array

import pytest

from chatsim.loadtest import (
    LoadTestConfig,
    StageRun,
    build_load_summary,
    extract,
    find_saturation,
)
from chatsim.loadtest._summary import StageSummary
from chatsim.metrics import Percentiles
from chatsim.protocol import Role, TerminationReason
from chatsim.recording import AttemptRecord, EpisodeRecord, TurnRecord

S = 1000.0

# (requested, sent, first token, end) per call, seconds after S; None marks a failed call.
Call = tuple[float, float, float, float] | None


def _episode(n: int, scheduled: float, started: float, calls: list[Call]) -> EpisodeRecord:
    turns = [
        TurnRecord(index=0, role=Role.USER, text="hi", requested_at=S + started,
                   started_at=S + started, ended_at=S + started)
    ]  # fmt: skip
    for call in calls:
        i = len(turns)
        if call is None:
            at = turns[-1].ended_at
            attempt = AttemptRecord(index=0, started_at=at, ended_at=at + 0.1, outcome="transient")
            turns.append(
                TurnRecord(index=i, role=Role.ASSISTANT, text="", requested_at=at, started_at=at,
                           ended_at=at + 0.1, attempts=[attempt], finish_reason="error")
            )  # fmt: skip
            continue
        requested, sent, first, end = (S + x for x in call)
        attempt = AttemptRecord(index=0, started_at=sent, ended_at=end, outcome="ok")
        turns.append(
            TurnRecord(index=i, role=Role.ASSISTANT, text="B", requested_at=requested,
                       started_at=sent, first_token_at=first, ended_at=end, attempts=[attempt],
                       finish_reason="stop")
        )  # fmt: skip
        turns.append(
            TurnRecord(index=i + 1, role=Role.USER, text="ok", requested_at=end, started_at=end,
                       ended_at=end)
        )  # fmt: skip
    failed = any(c is None for c in calls)
    return EpisodeRecord(
        run_id="r", episode_id=f"m|q|{n}", model="m", simulator="scripted", question_id="q",
        subject="s", repeat=n, seed=n, gold="B", turns=turns,
        final_answer=None if failed else "B", answer_method="none" if failed else "explicit",
        correct=not failed,
        termination=TerminationReason.TARGET_ERROR if failed else TerminationReason.ANSWERED,
        user_messages=len(calls), started_at=S + started, ended_at=turns[-1].ended_at,
        extra={"load": {"stage": 0, "scheduled_at": S + scheduled}},
    )  # fmt: skip


EPISODES = [
    # A: on time, within every objective.
    _episode(0, 0.0, 0.0, [(0.0, 0.0, 0.2, 0.5)]),
    # B: started 0.4 s late; its first call is fine from send but not from schedule.
    _episode(1, 1.0, 1.4, [(1.4, 1.4, 1.6, 1.8), (2.0, 2.0, 2.1, 2.2)]),
    # C: its second call waited 0.5 s in the client's queue before it was sent.
    _episode(2, 2.0, 2.0, [(2.0, 2.0, 2.1, 2.3), (3.0, 3.5, 3.6, 4.4)]),
    # D: the target failed.
    _episode(3, 5.0, 5.0, [None]),
]


def _stage() -> StageRun:
    # Five arrivals: A-D above, and one abandoned at the drain deadline.
    return StageRun(
        index=0, load=0.5, started_at=S, window_end=S + 10.0, ended_at=S + 20.0,
        arrivals=5, abandoned=1, scheduled=array("d", [S, S + 1, S + 2, S + 5, S + 8]),
    )  # fmt: skip


def _summary(basis: str) -> StageSummary:
    cfg = LoadTestConfig.build(
        model="m", rate=0.5, duration=10.0, slo_ttft_p95=0.5, slo_e2e_p95=1.0,
        slo_error_rate=0.2, slo_basis=basis, bucket=5.0,
    )  # fmt: skip
    conv, calls = extract(EPISODES)
    summary = build_load_summary(
        cfg, run_id="r", stages=[_stage()], conversations=conv, calls=calls
    )
    return summary.stages[0]


def test_scheduled_basis_counts_client_queueing_against_goodput() -> None:
    st = _summary("scheduled")
    assert (st.arrivals, st.completed, st.errors, st.abandoned) == (5, 4, 1, 1)
    assert st.good == 1  # only A: B started late, C queued, D failed
    assert st.elapsed == 20.0 and st.window == 10.0
    assert st.throughput == pytest.approx(4 / 20)
    assert st.goodput == pytest.approx(1 / 20)
    assert st.offered_rate == pytest.approx(5 / 10)
    assert st.call_rate == pytest.approx(6 / 20)
    assert st.error_rate == pytest.approx(2 / 5)  # D and the abandoned one
    assert st.accuracy == 1.0
    assert (st.calls, st.call_errors) == (6, 1)
    # TTFT from schedule: A .2, B .6 (.2 + .4 late), B .1, C .1, C .6 (.1 + .5 queued).
    assert st.ttft_scheduled.p95 == pytest.approx(0.6)
    assert st.ttft_sent.max == pytest.approx(0.2)
    # End-to-end from schedule: .5, .8, .2, .3, 1.4 -> p95 by linear interpolation.
    assert st.e2e_scheduled.p95 == pytest.approx(0.8 + 0.8 * 0.6)
    assert st.start_lag.max == pytest.approx(0.4)
    assert not st.met_objectives
    assert st.breaches == [
        "TTFT p95 600 ms > 500 ms",
        "end-to-end p95 1280 ms > 1000 ms",
        "error rate 40.0% > 20.0%",
    ]


def test_sent_basis_does_not_see_the_client_queue() -> None:
    st = _summary("sent")
    assert st.good == 3  # A, B and C: within both objectives from send
    assert st.goodput == pytest.approx(3 / 20)
    assert st.breaches == ["error rate 40.0% > 20.0%"]


def test_scheduled_latency_is_never_below_sent_latency() -> None:
    _, calls = extract(EPISODES)
    ok = ~calls.failed
    assert (calls.e2e_scheduled[ok] >= calls.e2e_sent[ok]).all()
    assert (calls.ttft_scheduled[ok] >= calls.ttft_sent[ok]).all()


def test_time_series_buckets() -> None:
    st = _summary("scheduled")
    assert [p.t for p in st.series] == [0.0, 5.0, 10.0, 15.0]
    assert [p.arrivals for p in st.series] == [3, 2, 0, 0]
    assert [p.completed for p in st.series] == [3, 1, 0, 0]
    assert [p.errors for p in st.series] == [0, 1, 0, 0]
    assert [p.calls for p in st.series] == [5, 1, 0, 0]
    assert st.series[0].ttft_p95_scheduled == pytest.approx(0.6)
    assert st.series[2].e2e_p50 is None


def _stage_summary(index: int, load: float, met: bool) -> StageSummary:
    empty = Percentiles(n=0)
    return StageSummary(
        index=index, load=load, started_at=0.0, window=1.0, elapsed=1.0, arrivals=1,
        completed=1, errors=0, abandoned=0, good=1, offered_rate=load, throughput=1.0,
        goodput=1.0, call_rate=1.0, error_rate=0.0, calls=1, call_errors=0, ttft_sent=empty,
        ttft_scheduled=empty, e2e_sent=empty, e2e_scheduled=empty, start_lag=empty,
        conversation=empty, event_loop_lag=empty, met_objectives=met,
        breaches=[] if met else ["end-to-end p95 900 ms > 300 ms"],
    )  # fmt: skip


def test_saturation_lies_between_the_last_good_and_the_first_broken_stage() -> None:
    stages = [_stage_summary(0, 10, True), _stage_summary(1, 20, True),
              _stage_summary(2, 40, False), _stage_summary(3, 80, False)]  # fmt: skip
    sat = find_saturation(stages, "conversations/s")
    assert sat.found and (sat.last_ok_load, sat.first_broken_load) == (20, 40)
    assert sat.note.startswith("saturates between 20 and 40 conversations/s")
    low = find_saturation([_stage_summary(0, 10, False)], "users")
    assert low.found and low.last_ok_stage is None and "lowest load" in low.note
    fine = find_saturation(stages[:2], "users")
    assert not fine.found and fine.last_ok_load == 20
