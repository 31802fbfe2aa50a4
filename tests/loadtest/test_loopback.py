"""Load tests end to end: the real adapter over HTTP against the in-process loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from chatsim.config import LoadTestConfig
from chatsim.loadtest import (
    LOAD_SUMMARY_FILE,
    extract,
    iter_episodes,
    load_summary_figures,
    loadtest,
    read_load_summary,
    render_load_summary,
)
from chatsim.recording import read_run
from chatsim.report import load_report_data
from chatsim.testing import ScriptedSimulator
from chatsim.testing._server import LoopbackServer
from chatsim.testing._server_capacity import Capacity
from chatsim.testing._server_script import Latency, ReplyScript

from .helpers import answer_after

pytestmark = pytest.mark.anyio

REPLY = "The answer is B."


async def test_sweep_finds_the_servers_scripted_saturation_point(tmp_path: Path) -> None:
    # 4 workers x 100 ms per reply: at most 40 one-call conversations per second.
    script = ReplyScript(REPLY, latency=Latency.ms(100))
    async with LoopbackServer(script, capacity=Capacity(workers=4)) as server:
        result = await loadtest(
            "vllm:loopback", base_url=server.base_url,
            simulator=ScriptedSimulator(answer_after(1)), arrival="constant",
            sweep=[10, 20, 80], duration=0.5, slo_e2e_p95=0.3, out_dir=tmp_path, bucket=0.1,
        )  # fmt: skip
    stages = result.stages
    assert [s.load for s in stages] == [10, 20, 80]
    assert [s.arrivals for s in stages] == [5, 10, 40]
    assert all(s.completed == s.arrivals and s.errors == 0 for s in stages)
    assert [s.met_objectives for s in stages] == [True, True, False]
    sat = result.saturation
    assert sat.found and (sat.last_ok_load, sat.first_broken_load) == (20, 80)
    assert sat.breaches and sat.breaches[0].startswith("end-to-end p95")
    # Below capacity the latency is the scripted 100 ms; above it, the queue shows.
    assert stages[1].e2e_sent.p95 is not None and 0.1 <= stages[1].e2e_sent.p95 < 0.2
    assert stages[2].e2e_scheduled.p95 is not None and stages[2].e2e_scheduled.p95 > 0.4
    assert server.max_waiting > 0


async def test_client_queueing_shows_in_scheduled_latency_only(tmp_path: Path) -> None:
    # The client may run 2 conversations at once but 80/s arrive: arrivals wait client-side.
    # Latency from send stays at the server's 50 ms; latency from schedule grows (the
    # coordinated omission a send-time measurement would hide).
    script = ReplyScript(REPLY, latency=Latency.ms(50))
    async with LoopbackServer(script, capacity=Capacity(workers=2)) as server:
        result = await loadtest(
            "vllm:loopback", base_url=server.base_url,
            simulator=ScriptedSimulator(answer_after(1)), arrival="constant", rate=80,
            conversations=20, max_in_flight=2, out_dir=tmp_path, bucket=0.1,
        )  # fmt: skip
    (stage,) = result.stages
    assert stage.completed == 20
    _, calls = extract(iter_episodes(result.run_dir))
    assert (calls.e2e_scheduled >= calls.e2e_sent).all()
    assert (calls.ttft_scheduled >= calls.ttft_sent).all()
    assert stage.e2e_sent.p95 is not None and stage.e2e_sent.p95 < 0.15
    assert stage.e2e_scheduled.p95 is not None and stage.e2e_scheduled.p95 > 0.2
    assert stage.start_lag.max is not None and stage.start_lag.max > 0.15
    assert float(np.nanmax(calls.e2e_scheduled)) > 2 * float(np.nanmax(calls.e2e_sent))


async def test_run_directory_holds_records_and_a_readable_load_summary(tmp_path: Path) -> None:
    async with LoopbackServer(ReplyScript(REPLY, latency=Latency.ms(5, 1))) as server:
        result = await loadtest(
            "vllm:loopback", base_url=server.base_url, mode="closed", users=4,
            conversations=12, slo_ttft_p95=1.0, out_dir=tmp_path, run_id="lt", bucket=0.1,
        )  # fmt: skip
    run = read_run(result.run_dir)
    assert run.header.kind == "loadtest" and isinstance(run.header.config, LoadTestConfig)
    assert run.header.config.users == 4
    assert run.header.models == ("vllm:loopback",)
    assert len(run.episodes) == 12 == result.stages[0].completed
    assert all("scheduled_at" in ep.extra["load"] for ep in run.episodes)
    stored = json.loads((result.run_dir / LOAD_SUMMARY_FILE).read_text())
    assert stored["stages"][0]["completed"] == 12
    assert read_load_summary(result.run_dir) == result.summary
    assert result.summary.event_loop_lag.n > 0
    # Replies stream 1 ms apart: each has a longest pause; 4 users opened 4 connections.
    stage = result.stages[0]
    assert stage.max_token_gap.n == stage.calls and (stage.max_token_gap.p50 or 0) > 0
    assert 1 <= stage.connect.n <= 4 < stage.calls
    # What `chatsim report` reads, renders in the terminal and plots.
    assert load_report_data(result.run_dir).load_summary == stored
    console = Console(record=True, width=100)
    render_load_summary(stored, console)
    text = console.export_text()
    assert "saturation: objectives met at every load up to 4 users" in text
    assert len(load_summary_figures(stored)) == 2
