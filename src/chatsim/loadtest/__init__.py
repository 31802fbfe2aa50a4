"""Load testing with simulated users: open/closed loop, sweeps, objectives, goodput.

    result = await chatsim.loadtest.loadtest(
        "vllm:llama", base_url="http://127.0.0.1:8000/v1", rate=5, duration=60,
        sweep=[2, 4, 8, 16], slo_ttft_p95=0.5, slo_e2e_p95=5.0,
    )
    print(result.saturation.note)

Each conversation is the runner's ``run_episode``; results go to an ordinary run directory
(header kind ``loadtest``, ``episodes.jsonl``) plus ``load_summary.json``.
"""

from chatsim._util._gc import GcPolicy
from chatsim.config import (
    DEFAULT_LOADTEST_POLICY,
    DEFAULT_SLO_ERROR_RATE,
    LoadTestConfig,
)
from chatsim.loadtest._api import (
    LOAD_SUMMARY_FILE,
    LoadTestResult,
    loadtest,
    read_load_summary,
    run_loadtest,
    summarize_load_run,
)
from chatsim.loadtest._arrivals import arrival_offsets, cumulative_arrivals, user_start_offsets
from chatsim.loadtest._build import build_load_summary, find_saturation, good_conversations
from chatsim.loadtest._engine import LoadEngine, StageRun
from chatsim.loadtest._extract import extract, iter_episodes
from chatsim.loadtest._lag import LagMonitor
from chatsim.loadtest._live_stats import LiveStats, ObservedCaller
from chatsim.loadtest._plots import load_summary_figures
from chatsim.loadtest._render import as_load_summary, render_load_summary
from chatsim.loadtest._report import load_test_sections
from chatsim.loadtest._summary import (
    LOAD_SUMMARY_VERSION,
    LoadSummary,
    Objectives,
    Saturation,
    SeriesPoint,
    StageSummary,
)
from chatsim.loadtest._think import ThinkingTurnSource, think_seconds

__all__ = [
    "DEFAULT_LOADTEST_POLICY",
    "DEFAULT_SLO_ERROR_RATE",
    "LOAD_SUMMARY_FILE",
    "LOAD_SUMMARY_VERSION",
    "GcPolicy",
    "LagMonitor",
    "LiveStats",
    "LoadEngine",
    "LoadSummary",
    "LoadTestConfig",
    "LoadTestResult",
    "Objectives",
    "ObservedCaller",
    "Saturation",
    "SeriesPoint",
    "StageRun",
    "StageSummary",
    "ThinkingTurnSource",
    "arrival_offsets",
    "as_load_summary",
    "build_load_summary",
    "cumulative_arrivals",
    "extract",
    "find_saturation",
    "good_conversations",
    "iter_episodes",
    "load_summary_figures",
    "load_test_sections",
    "loadtest",
    "read_load_summary",
    "render_load_summary",
    "run_loadtest",
    "summarize_load_run",
    "think_seconds",
    "user_start_offsets",
]
