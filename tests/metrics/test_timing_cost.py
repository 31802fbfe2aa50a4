"""Latency, recovery and cost on hand-timed records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from records_kit import assistant, attempt, episode, user

from chatsim import DataError
from chatsim.metrics._cost import cost_summary, load_prices
from chatsim.metrics._latency import call_timings, episode_timing, latency_summary, percentiles
from chatsim.metrics._recovery import recovery_summary
from chatsim.protocol._types import TerminationReason as TR


def _timed_episode() -> object:
    # user 0-1 s; assistant requested 1.0, queued .5, sent 1.5, first token 2.0, done 3.0
    # (11 completion tokens -> tpot = 1.0 / 10 = .1); user 3-3.5; assistant with a failed
    # attempt 3.5-4.0 (+ .5 wait) then an ok one sent 4.5, first token 4.7, done 5.5.
    turns = [
        user(0, "hi", 0.0, 1.0),
        assistant(1, "B", 1.5, 3.0, first=2.0, queue=0.5, usage=(100, 11),
                  attempts=[attempt(0, 1.5, 3.0)]),
        user(2, "sure?", 3.0, 3.5),
        assistant(3, "B", 3.5, 5.5, first=4.7, usage=(200, 5), attempts=[
            attempt(0, 3.5, 4.0, "rate_limit", wait_before_next=0.5, status_code=429),
            attempt(1, 4.5, 5.5),
        ]),
    ]  # fmt: skip
    return episode("gpt-4o", "q1", turns=turns, start=0.0, end=6.0, user_messages=2)


def test_call_timings_hand_values() -> None:
    first, second = call_timings([_timed_episode()])  # type: ignore[list-item]
    assert first.ttft_sent == pytest.approx(0.5)
    assert first.ttft_requested == pytest.approx(1.0)
    assert first.e2e_sent == pytest.approx(1.5)
    assert first.e2e_requested == pytest.approx(2.0)
    assert first.tpot == pytest.approx(0.1)
    assert first.tokens_per_s == pytest.approx(11 / 1.5)
    # The second call is timed from its successful attempt (sent 4.5), not the failed one.
    assert second.turn == 1
    assert second.attempts == 2
    assert second.ttft_sent == pytest.approx(0.2)
    assert second.e2e_sent == pytest.approx(1.0)
    assert second.e2e_requested == pytest.approx(2.0)


def test_a_recorded_wire_send_time_is_what_latency_counts_from() -> None:
    # Schema 2: the attempt began at 1.5 but its request went on the wire at 1.6 (the
    # client's own delay); TTFT and e2e "from send" start at 1.6. Without sent_at (schema 1
    # records), the attempt's start stands for it, as above.
    turns = [
        user(0, "hi", 0.0, 1.0),
        assistant(1, "B", 1.6, 3.0, first=2.0, queue=0.5,
                  attempts=[attempt(0, 1.5, 3.0, sent_at=1.6, connect_time=0.05)]),
    ]  # fmt: skip
    (call,) = call_timings([episode("m", "q1", turns=turns, start=0.0, end=3.0)])  # type: ignore[list-item]
    assert call.ttft_sent == pytest.approx(0.4)
    assert call.e2e_sent == pytest.approx(1.4)
    assert call.ttft_requested == pytest.approx(0.9)  # requested at 1.6 - .5 queue = 1.1
    assert call.connect_time == pytest.approx(0.05)  # reported apart, not in "from send"


def test_the_longest_pause_in_a_stream_is_summarized_per_reply() -> None:
    def streamed(index: int, gap: float | None) -> object:
        turn = assistant(index, "B", 1.0, 2.0, first=1.2, attempts=[attempt(0, 1.0, 2.0)])
        return turn.model_copy(update={"max_token_gap": gap})

    turns = [user(0, "hi", 0.0, 1.0), streamed(1, 0.3), user(2, "ok", 2.0, 2.5),
             streamed(3, None), user(4, "ok", 2.5, 3.0), streamed(5, 0.1)]  # fmt: skip
    lat = latency_summary([episode("m", "q1", turns=turns, start=0.0, end=3.0, user_messages=3)])  # type: ignore[list-item]
    assert lat.max_token_gap.n == 2  # the reply that came in one piece has no pause
    assert lat.max_token_gap.max == pytest.approx(0.3)
    assert lat.max_token_gap.p50 == pytest.approx(0.2)


def test_episode_split_hand_values() -> None:
    t = episode_timing(_timed_episode())  # type: ignore[arg-type]
    assert t.wall == 6.0
    assert t.simulator == pytest.approx(1.5)
    assert t.target == pytest.approx(1.5 + 2.0)
    assert t.queue == pytest.approx(0.5)
    assert t.other == pytest.approx(0.5)


def test_percentiles_and_by_turn() -> None:
    p = percentiles([1.0, 2.0, 3.0, 4.0, None])
    assert (p.n, p.p50, p.max, p.mean) == (4, 2.5, 4.0, 2.5)
    assert p.p90 == pytest.approx(3.7)
    assert percentiles([]).p50 is None
    s = latency_summary([_timed_episode()])  # type: ignore[list-item]
    assert s.calls == 2
    assert sorted(s.by_turn) == [0, 1]
    assert s.by_turn[1].ttft_sent.p50 == pytest.approx(0.2)


def test_recovery_hand_values() -> None:
    eps = [
        _timed_episode(),
        episode("gpt-4o", "q2", termination=TR.TARGET_ERROR, turns=[
            user(0, "hi", 0, 1),
            assistant(1, "", 1, 3, attempts=[
                attempt(0, 1, 2, "transient", wait_before_next=0.25),
                attempt(1, 2.25, 3, "permanent", status_code=400),
            ]),
        ]),
        episode("gpt-4o", "q3"),
    ]  # fmt: skip
    r = recovery_summary(eps)  # type: ignore[arg-type]
    assert (r.calls, r.retried_calls) == (3, 2)
    assert r.failed_attempts == {"permanent": 1, "rate_limit": 1, "transient": 1}
    assert (r.episodes_with_failures, r.recovered_episodes, r.lost_to_target_errors) == (2, 1, 1)
    # (.5 + .5 wait) + (1 + .25 wait) + .75 = 3.0
    assert r.retry_seconds == pytest.approx(3.0)
    assert r.retry_seconds_per_retried_call == pytest.approx(1.5)


def test_recovery_zeros_when_nothing_failed() -> None:
    r = recovery_summary([episode("m", "q1")])
    assert (r.retried_calls, r.recovered_episodes, r.retry_seconds) == (0, 0, 0.0)
    assert r.retry_seconds_per_retried_call is None


def test_cost_known_snapshot_and_unknown_models() -> None:
    prices = load_prices()
    assert prices.date
    ep = _timed_episode()
    c = cost_summary("openai:gpt-4o", [ep], prices)  # type: ignore[list-item]
    # 300 prompt tokens at $2.50/M + 16 completion tokens at $10/M.
    assert (c.prompt_tokens, c.completion_tokens) == (300, 16)
    assert c.cost == pytest.approx((300 * 2.5 + 16 * 10.0) / 1e6)
    assert c.price_entry == "gpt-4o"
    assert cost_summary("gpt-4o-2024-08-06", [ep], prices).price_entry == "gpt-4o"  # type: ignore[list-item]
    assert cost_summary("gpt-4o-mini", [ep], prices).price_entry == "gpt-4o-mini"  # type: ignore[list-item]
    unknown = cost_summary("vllm:my-llama", [ep], prices)  # type: ignore[list-item]
    assert unknown.cost is None
    assert unknown.cost_per_episode is None
    assert unknown.prompt_tokens == 300
    assert cost_summary("azure:prod-deployment", [ep], prices).cost is None  # type: ignore[list-item]


def test_vendor_prices_carry_their_own_date_and_source() -> None:
    prices = load_prices()
    ep = _timed_episode()
    claude = cost_summary("anthropic:claude-sonnet-4-5-20250929", [ep], prices)  # type: ignore[list-item]
    assert claude.price_entry == "claude-sonnet-4-5"  # Anthropic's -YYYYMMDD snapshots
    assert claude.cost == pytest.approx((300 * 3.0 + 16 * 15.0) / 1e6)
    gemini = cost_summary("gemini:gemini-2.5-flash", [ep], prices)  # type: ignore[list-item]
    assert gemini.price_entry == "gemini-2.5-flash"
    for summary in (claude, gemini):
        entry = prices.models[summary.price_entry or ""]
        assert entry.source and entry.date == summary.price_date != prices.date
    assert cost_summary("gpt-4o", [ep], prices).price_date == prices.date  # type: ignore[list-item]


def test_user_price_table(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps({"date": "2030-01-01", "models": {"my-llama": {"input": 1, "output": 2}}})
    )
    c = cost_summary("vllm:my-llama", [_timed_episode()], load_prices(path))  # type: ignore[list-item]
    assert c.cost == pytest.approx((300 * 1 + 16 * 2) / 1e6)
    assert c.price_date == "2030-01-01"
    path.write_text("{not json")
    with pytest.raises(DataError, match="price table"):
        load_prices(path)


def test_a_call_that_failed_for_good_is_not_timed_as_a_reply() -> None:
    turns = [
        user(0, "hi", 0.0, 1.0),
        assistant(1, "", 1.0, 1.004, attempts=[attempt(0, 1.0, 1.004, "transient")]),
    ]
    failed = episode(
        "m", "q1", turns=turns, start=0.0, end=1.1, termination=TR.TARGET_ERROR, answer=None
    )
    assert call_timings([failed, _timed_episode()]) == call_timings([_timed_episode()])  # type: ignore[list-item]
    assert latency_summary([failed]).calls == 0
