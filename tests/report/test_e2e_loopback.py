"""End to end: two runs against the loopback server (real openai SDK), then the HTML report
and a comparison of the two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import chatsim
from chatsim.metrics import IncomparableRunsError, compare
from chatsim.recording import read_run
from chatsim.report import write_html_report
from chatsim.targets import available_adapters, register_adapter, unregister_adapter
from chatsim.testing._server import LoopbackServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def vllm_adapter() -> None:
    """The ``vllm`` profile of chatsim-openai: installed, or importable from the source tree."""
    if "vllm" in available_adapters():
        return
    factories = pytest.importorskip("chatsim_openai._factories", reason="chatsim-openai missing")
    register_adapter("vllm", factories.vllm_adapter)


async def test_html_report_and_compare_from_loopback_runs(
    vllm_adapter: None, tmp_path: Path
) -> None:
    try:
        async with LoopbackServer("Let me think it through. The correct answer is B.") as server:
            runs = [
                await chatsim.evaluate(
                    f"vllm:{name}",
                    "college_math",
                    simulator="scripted",
                    limit=3,
                    repeats=2,
                    out_dir=tmp_path,
                    run_id=name,
                    base_url=server.base_url,
                )
                for name in ("model-a", "model-b")
            ]
            shorter = await chatsim.evaluate(
                "vllm:model-c", "college_math", simulator="scripted", limit=3, repeats=2,
                out_dir=tmp_path, run_id="model-c", base_url=server.base_url, max_turns=2,
            )  # fmt: skip
    finally:
        unregister_adapter("vllm")
    html = write_html_report(runs[0].run_dir, tmp_path / "a.html").read_text()
    assert "vllm:model-a" in html
    assert 'id="conversations"' in html
    summary = json.loads((runs[0].run_dir / "summary.json").read_text())
    assert summary["models"]["vllm:model-a"]["episodes"] == 6
    latency = runs[0].summary.models["vllm:model-a"].latency
    assert latency.ttft_sent.n == latency.calls > 0  # streamed: every call has a TTFT
    result = compare([read_run(r.run_dir) for r in runs])
    (pair,) = result.pairs
    # Both assistants always say B, on the same questions and seeds: no difference.
    assert pair.diff.diff == 0.0
    assert pair.verdict.startswith("No clear difference between vllm:model-a and vllm:model-b")
    assert result.differences == []
    # A run with another turn limit is refused by name, and compared only when allowed.
    different = [read_run(runs[0].run_dir), read_run(shorter.run_dir)]
    with pytest.raises(IncomparableRunsError, match=r"max_turns: 10 \(model-a\) vs 2 \(model-c\)"):
        compare(different)
    allowed = compare(different, allow_different=["max_turns"])
    assert [d.field for d in allowed.differences] == ["max_turns"]
