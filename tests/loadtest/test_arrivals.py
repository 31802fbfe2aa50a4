"""Arrival schedules: seeded, at the requested rate, ramped as asked."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest

from chatsim.loadtest import arrival_offsets, cumulative_arrivals, user_start_offsets


def _until(offsets: Iterator[float], end: float) -> list[float]:
    return list(itertools.takewhile(lambda t: t < end, offsets))


def test_poisson_count_and_gaps_match_the_rate() -> None:
    times = _until(arrival_offsets(50.0, seed=1), 100.0)
    # 5000 expected; a Poisson count has sd sqrt(5000) ~ 71.
    assert abs(len(times) - 5000) < 4 * math.sqrt(5000)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    assert mean == pytest.approx(1 / 50, rel=0.05)
    # Exponential gaps: the coefficient of variation is 1 (a constant process has 0).
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    assert sd / mean == pytest.approx(1.0, abs=0.1)


def test_poisson_is_reproducible_per_seed() -> None:
    first = list(itertools.islice(arrival_offsets(10.0, seed=7), 50))
    again = list(itertools.islice(arrival_offsets(10.0, seed=7), 50))
    other = list(itertools.islice(arrival_offsets(10.0, seed=8), 50))
    assert first == again and first != other
    assert first == sorted(first)


def test_constant_arrivals_are_evenly_spaced_from_zero() -> None:
    times = _until(arrival_offsets(4.0, process="constant"), 2.0)
    assert times == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])


def test_ramp_up_grows_the_rate_linearly() -> None:
    rate, ramp = 100.0, 10.0
    times = _until(arrival_offsets(rate, process="constant", ramp_up=ramp), 20.0)
    # Half the full-rate arrivals during the ramp, then the full rate.
    assert len([t for t in times if t < ramp]) == pytest.approx(rate * ramp / 2, abs=1)
    assert len([t for t in times if ramp <= t < 20.0]) == pytest.approx(rate * 10, abs=1)
    # The first half of the ramp holds a quarter of its arrivals (rate ~ t).
    assert len([t for t in times if t < ramp / 2]) == pytest.approx(rate * ramp / 8, abs=1)
    assert cumulative_arrivals(ramp, rate, ramp) == pytest.approx(rate * ramp / 2)
    assert cumulative_arrivals(15.0, rate, ramp) == pytest.approx(rate * ramp / 2 + rate * 5)


def test_poisson_with_ramp_matches_the_cumulative_rate() -> None:
    times = _until(arrival_offsets(200.0, ramp_up=5.0, seed=3), 10.0)
    expected = cumulative_arrivals(10.0, 200.0, 5.0)  # 1500
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)


def test_closed_loop_users_start_spread_over_the_ramp() -> None:
    assert user_start_offsets(4, 2.0) == [0.0, 0.5, 1.0, 1.5]
    assert user_start_offsets(3, 0.0) == [0.0, 0.0, 0.0]
    assert user_start_offsets(0, 1.0) == []


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        next(arrival_offsets(0.0))
