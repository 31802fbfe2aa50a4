"""The smaller parts: configuration, think time, lag monitor, GC policy, public surface."""

from __future__ import annotations

import gc
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from rich.console import Console

import chatsim.loadtest
from chatsim import AuthenticationError, ConfigError
from chatsim.loadtest import (
    GcPolicy,
    LagMonitor,
    LiveStats,
    LoadTestConfig,
    loadtest,
    read_load_summary,
    think_seconds,
)
from chatsim.recording import read_run
from chatsim.testing import FakeTarget

pytestmark = pytest.mark.anyio


def test_config_needs_a_bound_and_a_load() -> None:
    with pytest.raises(ConfigError, match="duration or a number of conversations"):
        LoadTestConfig.build(model="m", rate=1.0)
    with pytest.raises(ConfigError, match="needs a rate"):
        LoadTestConfig.build(model="m", duration=1.0)
    with pytest.raises(ConfigError, match="whole numbers of users"):
        LoadTestConfig.build(model="m", mode="closed", sweep=(1.5,), duration=1.0)
    with pytest.raises(ConfigError, match="needs streamed replies"):
        LoadTestConfig.build(model="m", rate=1, duration=1, stream=False, slo_ttft_p95=1)
    with pytest.raises(ConfigError, match="rate"):
        LoadTestConfig.build(model="m", rate=-1.0, duration=1.0)


def test_config_loads_and_call_policy() -> None:
    sweep = LoadTestConfig.build(model="m", sweep=(8, 2, 4, 4), duration=1.0)
    assert sweep.loads() == [2, 4, 4, 8]  # increasing; a repeat runs twice (warm-up)
    policy = sweep.call_policy()
    assert policy["max_attempts"] == 1 and policy["adaptive"] is False  # measure, don't retry
    closed = LoadTestConfig.build(
        model="m", mode="closed", users=20_000, duration=1.0, policy={"max_attempts": 3}
    )
    assert closed.call_policy()["max_concurrency"] == 20_000
    assert closed.call_policy()["max_attempts"] == 3


def test_think_time_is_fixed_or_a_seeded_exponential() -> None:
    assert think_seconds(2.0, "fixed", 1) == 2.0
    assert think_seconds(0.0, "exponential", 1) == 0.0
    draws = [think_seconds(2.0, "exponential", seed) for seed in range(4000)]
    assert draws[7] == think_seconds(2.0, "exponential", 7)
    assert statistics.mean(draws) == pytest.approx(2.0, rel=0.08)
    assert statistics.median(draws) == pytest.approx(2.0 * 0.6931, rel=0.08)


async def test_lag_monitor_sees_a_blocked_loop() -> None:
    monitor = LagMonitor(interval=0.005)
    async with anyio.create_task_group() as tg:
        tg.start_soon(monitor.run)
        await anyio.sleep(0.02)
        time.sleep(0.06)  # noqa: ASYNC251 - blocking the loop on purpose
        await anyio.sleep(0.02)
        tg.cancel_scope.cancel()
    times, lags = monitor.samples()
    assert len(times) == len(lags) >= 3
    assert lags.max() >= 0.04
    assert monitor.between(times[0], times[-1] + 1).size == len(lags)
    assert monitor.recent(10.0, times[-1]).size == len(lags)


def test_gc_policy_freezes_and_hands_back() -> None:
    stats = LiveStats()
    policy = GcPolicy(lambda: stats.call_errors, max_errors=3)
    assert gc.get_freeze_count() == 0
    policy.start()
    try:
        assert gc.get_freeze_count() > 0 and policy.full_collections == 1
        junk = [[i] for i in range(1000)]
        policy.tick()
        assert gc.get_freeze_count() >= 1000 and policy.full_collections == 1
        del junk
        stats.call_errors = 3  # failures make garbage cycles: collect fully
        policy.tick()
        assert policy.full_collections == 2
        policy.stage_boundary()
        assert policy.full_collections == 3
    finally:
        policy.stop()
    assert gc.get_freeze_count() == 0
    off = GcPolicy(lambda: 0, enabled=False)
    off.start()
    off.tick()
    assert gc.get_freeze_count() == 0 and off.full_collections == 0


def test_gc_policy_leaves_a_callers_own_freeze_alone() -> None:
    gc.freeze()
    try:
        policy = GcPolicy(lambda: 0)
        policy.start()
        policy.tick()
        policy.stop()
        # Nothing collected, and the caller's freeze not undone (the count itself may drop:
        # frozen objects still die by reference counting).
        assert policy.full_collections == 0 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_a_refused_key_stops_the_run_and_still_leaves_a_summary(tmp_path: Path) -> None:
    target = FakeTarget([AuthenticationError("bad key", status_code=401)], delay=0.01)
    with pytest.raises(AuthenticationError):
        await loadtest(
            "fake:m", adapter=target, rate=200.0, duration=2.0, out_dir=tmp_path, run_id="r"
        )
    summary = read_load_summary(tmp_path / "r")
    assert summary.interrupted
    assert summary.stages[0].window < 1.0  # stopped long before the 2 s of arrivals
    assert read_run(tmp_path / "r").header.kind == "loadtest"


def test_public_surface_and_light_import() -> None:
    for name in chatsim.loadtest.__all__:
        assert hasattr(chatsim.loadtest, name), name
    code = (
        "import sys, chatsim.loadtest, chatsim.cli._loadtest;"
        "print(','.join(m for m in ('torch', 'transformers', 'pandas', 'plotly')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_live_view_draws_while_the_run_goes(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    await loadtest(
        "fake:m", adapter=FakeTarget(delay=0.005), rate=40.0, duration=0.6, out_dir=tmp_path,
        live=console,
    )  # fmt: skip
    text = out.getvalue()
    assert "load test fake:m" in text and "in flight" in text and "loop lag" in text
