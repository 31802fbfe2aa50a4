"""A load test on a local Ray (2 workers) against the loopback server: the conversations one
process would plan, every call recorded once, percentiles from the union of the raw timings,
and the one-process run directory (which ``chatsim report`` reads)."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from chatsim.loadtest import LOAD_SUMMARY_FILE, extract, iter_episodes, loadtest
from chatsim.metrics import percentiles
from chatsim.recording import read_run
from chatsim.report import load_report_data
from chatsim.testing import LoopbackServer, ReplyScript
from chatsim.testing._server_script import Latency

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray, pytest.mark.usefixtures("local_ray")]

OPTIONS = {
    "arrival": "constant",
    "rate": 40.0,
    "conversations": 24,
    "seed": 3,
    "slo_e2e_p95": 1.0,
    "bucket": 0.1,
}


def _conversations(run_dir: Path) -> dict[str, tuple[object, ...]]:
    return {
        e.episode_id: (e.extra["load"]["conversation"], len(e.turns), e.final_answer)
        for e in read_run(run_dir).episodes
    }


def _raw(values: np.ndarray) -> list[float]:
    kept: list[float] = values[~np.isnan(values)].tolist()
    return kept


async def test_two_workers_offer_the_one_process_load_and_merge_raw_timings(
    tmp_path: Path,
) -> None:
    script = ReplyScript("The answer is B.", latency=Latency.ms(5, 1))
    async with LoopbackServer(script) as server:
        url = server.base_url
        alone = await loadtest(
            "vllm:loopback", base_url=url, out_dir=tmp_path, run_id="one", **OPTIONS
        )
        on_ray = await loadtest(
            "vllm:loopback", base_url=url, out_dir=tmp_path, run_id="ray", ray="local",
            workers=2, **OPTIONS,
        )  # fmt: skip
        served = len(server.completion_requests)

    # The same 24 conversations (ids, numbers, turns) as one process, each recorded once.
    expected = _conversations(alone.run_dir)
    assert len(expected) == 24
    assert _conversations(on_ray.run_dir) == expected
    (stage,) = on_ray.stages
    (one,) = alone.stages
    assert stage.arrivals == stage.completed == 24 and stage.abandoned == 0
    assert stage.calls == one.calls and served == 2 * stage.calls  # every call recorded once
    # Both workers generated load (arrival k went to worker k mod 2), on one schedule from
    # one shared start: the 40/s that one process offers.
    episodes = read_run(on_ray.run_dir).episodes
    assert {e.extra["load"]["conversation"] % 2 for e in episodes} == {0, 1}
    offsets = sorted(e.extra["load"]["scheduled_at"] - stage.started_at for e in episodes)
    assert offsets == pytest.approx([k / 40 for k in range(24)], abs=1e-6)

    # Percentiles of the merged summary are those of the union of every call's raw timings.
    _, calls = extract(iter_episodes(on_ray.run_dir))
    assert stage.e2e_sent == percentiles(_raw(calls.e2e_sent))
    assert stage.ttft_sent == percentiles(_raw(calls.ttft_sent))
    assert stage.e2e_scheduled == percentiles(_raw(calls.e2e_scheduled))
    assert stage.e2e_sent.n == stage.calls
    assert stage.event_loop_lag.n > 0  # the workers' own loops, merged
    assert sum(p.arrivals for p in stage.series) == 24

    # The one-process layout: the same files, the same summary schema, readable by report.
    files = sorted(p.name for p in on_ray.run_dir.iterdir())
    assert files == sorted(p.name for p in alone.run_dir.iterdir())
    stored = json.loads((on_ray.run_dir / LOAD_SUMMARY_FILE).read_text())
    reference = json.loads((alone.run_dir / LOAD_SUMMARY_FILE).read_text())
    assert stored.keys() == reference.keys()
    assert stored["stages"][0].keys() == reference["stages"][0].keys()
    assert load_report_data(on_ray.run_dir).load_summary == stored
    assert read_run(on_ray.run_dir).header.kind == "loadtest"
