"""Building ``LoadSummary`` from the records' columns, the engine's stages and its samples.

Pure functions (no I/O, no clock): tests feed them hand-made columns and check the arithmetic.
The definitions are in ``_summary``'s docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chatsim.config import LoadTestConfig
from chatsim.loadtest._extract import CallColumns, ConversationColumns
from chatsim.loadtest._live_stats import Sample
from chatsim.loadtest._stage import StageRun
from chatsim.loadtest._summary import (
    LoadSummary,
    Objectives,
    Saturation,
    SeriesPoint,
    StageSummary,
)
from chatsim.metrics import Percentiles, percentiles

__all__ = ["build_load_summary", "find_saturation", "good_conversations", "objectives_of"]


def _pct(values: np.ndarray) -> Percentiles:
    return percentiles(values[~np.isnan(values)].tolist())


def objectives_of(config: LoadTestConfig) -> Objectives:
    return Objectives(
        ttft_p95=config.slo_ttft_p95,
        e2e_p95=config.slo_e2e_p95,
        error_rate=config.slo_error_rate,
        basis=config.slo_basis,
    )


def good_conversations(conv: ConversationColumns, objectives: Objectives) -> np.ndarray:
    """Which conversations count towards goodput: no error, and every turn within each
    objective (a conversation without a measured TTFT cannot break the TTFT objective)."""
    scheduled = objectives.basis == "scheduled"
    good = ~conv.error
    if objectives.ttft_p95 is not None:
        worst = conv.max_ttft_scheduled if scheduled else conv.max_ttft_sent
        good &= np.isnan(worst) | (worst <= objectives.ttft_p95)
    if objectives.e2e_p95 is not None:
        worst = conv.max_e2e_scheduled if scheduled else conv.max_e2e_sent
        good &= np.isnan(worst) | (worst <= objectives.e2e_p95)
    return np.asarray(good, dtype=bool)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def breaches(
    objectives: Objectives, ttft_p95: float | None, e2e_p95: float | None, error_rate: float
) -> list[str]:
    """The objectives that a stage with these figures breaks, in words."""
    out = []
    if objectives.ttft_p95 is not None and ttft_p95 is not None and ttft_p95 > objectives.ttft_p95:
        out.append(f"TTFT p95 {_ms(ttft_p95)} > {_ms(objectives.ttft_p95)}")
    if objectives.e2e_p95 is not None and e2e_p95 is not None and e2e_p95 > objectives.e2e_p95:
        out.append(f"end-to-end p95 {_ms(e2e_p95)} > {_ms(objectives.e2e_p95)}")
    if objectives.error_rate is not None and error_rate > objectives.error_rate:
        out.append(f"error rate {error_rate:.1%} > {objectives.error_rate:.1%}")
    return out


def _bucket_stat(
    index: np.ndarray, values: np.ndarray, n: int, fn: str, q: float = 0.0
) -> list[float | None]:
    """Per bucket, ``fn`` ("percentile" at ``q`` or "mean") of the non-nan ``values``."""
    out: list[float | None] = [None] * n
    keep = (index >= 0) & (index < n) & ~np.isnan(values)
    index, values = index[keep], values[keep]
    if values.size == 0:
        return out
    order = np.argsort(index, kind="stable")
    index, values = index[order], values[order]
    edges = np.searchsorted(index, np.arange(n + 1))
    for b in range(n):
        chunk = values[edges[b] : edges[b + 1]]
        if chunk.size:
            out[b] = float(np.percentile(chunk, q)) if fn == "percentile" else float(chunk.mean())
    return out


def _counts(index: np.ndarray, n: int, weights: np.ndarray | None = None) -> list[int]:
    keep = (index >= 0) & (index < n)
    w = None if weights is None else weights[keep].astype(np.float64)
    return [int(x) for x in np.bincount(index[keep], weights=w, minlength=n)[:n]]


def _series(
    stage: StageRun,
    conv: ConversationColumns,
    calls: CallColumns,
    samples: Sequence[Sample],
    lag: tuple[np.ndarray, np.ndarray],
    bucket: float,
) -> list[SeriesPoint]:
    assert stage.ended_at is not None
    start = stage.started_at
    n = max(1, math.ceil((stage.ended_at - start) / bucket))

    def idx(times: np.ndarray) -> np.ndarray:
        return np.floor((times - start) / bucket).astype(np.int64)

    arrivals = _counts(idx(np.array(stage.scheduled, dtype=np.float64)), n)
    conv_b, call_b = idx(conv.ended_at), idx(calls.ended_at)
    mine = [s for s in samples if s.stage == stage.index]
    s_t = idx(np.array([s.t for s in mine], dtype=np.float64))
    in_flight = _bucket_stat(s_t, np.array([s.in_flight for s in mine], dtype=float), n, "mean")
    calls_in = _bucket_stat(s_t, np.array([s.calls_in_flight for s in mine], float), n, "mean")
    lag_b = idx(lag[0])
    columns: dict[str, Sequence[float | int | None]] = {
        "completed": _counts(conv_b, n),
        "errors": _counts(conv_b, n, conv.error),
        "calls": _counts(call_b, n),
        "call_errors": _counts(call_b, n, calls.failed),
        "ttft_p50": _bucket_stat(call_b, calls.ttft_sent, n, "percentile", 50),
        "ttft_p95": _bucket_stat(call_b, calls.ttft_sent, n, "percentile", 95),
        "e2e_p50": _bucket_stat(call_b, calls.e2e_sent, n, "percentile", 50),
        "e2e_p95": _bucket_stat(call_b, calls.e2e_sent, n, "percentile", 95),
        "ttft_p95_scheduled": _bucket_stat(call_b, calls.ttft_scheduled, n, "percentile", 95),
        "e2e_p95_scheduled": _bucket_stat(call_b, calls.e2e_scheduled, n, "percentile", 95),
        "lag_p99": _bucket_stat(lag_b, lag[1], n, "percentile", 99),
    }
    columns["arrivals"] = arrivals
    columns["in_flight"] = in_flight
    columns["calls_in_flight"] = calls_in
    return [
        SeriesPoint.model_validate(
            {"t": b * bucket, **{name: values[b] for name, values in columns.items()}}
        )
        for b in range(n)
    ]


def _stage_summary(
    stage: StageRun,
    conv: ConversationColumns,
    calls: CallColumns,
    samples: Sequence[Sample],
    lag: tuple[np.ndarray, np.ndarray],
    objectives: Objectives,
    bucket: float,
) -> StageSummary:
    assert stage.ended_at is not None and stage.window_end is not None
    elapsed = max(0.0, stage.ended_at - stage.started_at)
    window = max(0.0, stage.window_end - stage.started_at)
    completed = len(conv.stage)
    errors = int(conv.error.sum())
    good = int(good_conversations(conv, objectives).sum())
    answered = conv.correct[~conv.error]
    error_rate = (errors + stage.abandoned) / stage.arrivals if stage.arrivals else 0.0
    scheduled = objectives.basis == "scheduled"
    ttft = _pct(calls.ttft_scheduled if scheduled else calls.ttft_sent)
    e2e = _pct(calls.e2e_scheduled if scheduled else calls.e2e_sent)
    broken = breaches(objectives, ttft.p95, e2e.p95, error_rate)
    mine = [s for s in samples if s.stage == stage.index]
    per_s = (lambda count: count / elapsed) if elapsed > 0 else (lambda count: 0.0)
    lag_pct = _pct(lag[1])
    client = _client_figures(stage, mine, len(calls.stage), elapsed, lag_pct)
    return StageSummary(
        index=stage.index,
        load=stage.load,
        started_at=stage.started_at,
        window=window,
        elapsed=elapsed,
        arrivals=stage.arrivals,
        completed=completed,
        errors=errors,
        abandoned=stage.abandoned,
        good=good,
        offered_rate=stage.arrivals / window if window > 0 else 0.0,
        throughput=per_s(completed),
        goodput=per_s(good),
        call_rate=per_s(len(calls.stage)),
        error_rate=error_rate,
        accuracy=float(answered.mean()) if answered.size else None,
        calls=len(calls.stage),
        call_errors=int(calls.failed.sum()),
        ttft_sent=_pct(calls.ttft_sent),
        ttft_scheduled=_pct(calls.ttft_scheduled),
        e2e_sent=_pct(calls.e2e_sent),
        e2e_scheduled=_pct(calls.e2e_scheduled),
        max_token_gap=_pct(calls.max_token_gap),
        connect=_pct(calls.connect),
        start_lag=_pct(conv.start_lag),
        conversation=_pct(conv.ended_at - conv.started_at),
        in_flight_mean=float(np.mean([s.in_flight for s in mine])) if mine else None,
        in_flight_max=max((s.in_flight for s in mine), default=None),
        calls_in_flight_max=max((s.calls_in_flight for s in mine), default=None),
        event_loop_lag=lag_pct,
        **client,
        met_objectives=not broken,
        breaches=broken,
        series=_series(stage, conv, calls, samples, lag, bucket),
    )


CLIENT_BUSY_CPU = 0.8
"""Share of a core above which the client may be measuring itself."""
CLIENT_BUSY_LAG = 0.05
"""Event-loop lag p99 (seconds) above which the client may be measuring itself."""


def _client_figures(
    stage: StageRun, samples: Sequence[Sample], calls: int, elapsed: float, lag: Percentiles
) -> dict[str, Any]:
    """The load tester's own cost in the stage: CPU, memory, and whether it was too busy.

    On Ray the CPU is all workers' together, and *busy* is judged on the busiest one (one
    saturated worker inflates the latencies it measures, however idle the others are)."""
    cpu = stage.cpu_seconds / elapsed if elapsed > 0 else 0.0
    busiest = stage.cpu_seconds if stage.busiest_cpu_seconds is None else stage.busiest_cpu_seconds
    busiest_share = busiest / elapsed if elapsed > 0 else 0.0
    rss = [s.rss for s in samples if s.rss is not None]
    peak_in_flight = max((s.in_flight for s in samples), default=0)
    per_conversation = None
    if len(rss) >= 2 and peak_in_flight > 0:
        per_conversation = max(0, max(rss) - rss[0]) / peak_in_flight
    return {
        "client_cpu": cpu,
        "client_cpu_per_call_ms": 1000 * stage.cpu_seconds / calls if calls else None,
        "client_busy": busiest_share > CLIENT_BUSY_CPU or (lag.p99 or 0.0) > CLIENT_BUSY_LAG,
        "rss_max": max(rss) if rss else None,
        "memory_per_in_flight": per_conversation,
    }


def find_saturation(stages: Sequence[StageSummary], unit: str) -> Saturation:
    """The first stage (in load order) that broke an objective, and the one before it."""
    for position, stage in enumerate(stages):
        if stage.met_objectives:
            continue
        before = stages[position - 1] if position > 0 else None
        if before is None:
            note = f"objectives broken already at the lowest load, {stage.load:g} {unit}"
        else:
            note = f"saturates between {before.load:g} and {stage.load:g} {unit}"
        return Saturation(
            found=True,
            last_ok_stage=before.index if before else None,
            last_ok_load=before.load if before else None,
            first_broken_stage=stage.index,
            first_broken_load=stage.load,
            breaches=list(stage.breaches),
            note=f"{note}: {'; '.join(stage.breaches)}",
        )
    if not stages:
        return Saturation(found=False, note="no stage ran")
    last = stages[-1]
    return Saturation(
        found=False,
        last_ok_stage=last.index,
        last_ok_load=last.load,
        note=f"objectives met at every load up to {last.load:g} {unit}",
    )


def _select_conv(conv: ConversationColumns, mask: np.ndarray) -> ConversationColumns:
    return ConversationColumns(**{k: getattr(conv, k)[mask] for k in conv.__dataclass_fields__})


def _select_calls(calls: CallColumns, mask: np.ndarray) -> CallColumns:
    return CallColumns(**{k: getattr(calls, k)[mask] for k in calls.__dataclass_fields__})


def build_load_summary(
    config: LoadTestConfig,
    *,
    run_id: str,
    stages: Sequence[StageRun],
    conversations: ConversationColumns,
    calls: CallColumns,
    samples: Sequence[Sample] = (),
    lag: tuple[np.ndarray, np.ndarray] | None = None,
    interrupted: bool = False,
) -> LoadSummary:
    """The load summary of a finished (or stopped) run."""
    objectives = objectives_of(config)
    lag_t, lag_v = lag if lag is not None else (np.empty(0), np.empty(0))
    summaries = []
    in_any = np.zeros(lag_t.shape, dtype=bool)
    for stage in stages:
        assert stage.ended_at is not None
        in_stage = (lag_t >= stage.started_at) & (lag_t < stage.ended_at)
        in_any |= in_stage
        summaries.append(
            _stage_summary(
                stage,
                _select_conv(conversations, conversations.stage == stage.index),
                _select_calls(calls, calls.stage == stage.index),
                samples,
                (lag_t[in_stage], lag_v[in_stage]),
                objectives,
                config.bucket,
            )
        )
    unit = "conversations/s" if config.mode == "open" else "users"
    return LoadSummary(
        run_id=run_id,
        model=config.model,
        mode=config.mode,
        arrival=config.arrival,
        load_unit=unit,
        objectives=objectives,
        stages=summaries,
        saturation=find_saturation(summaries, unit),
        event_loop_lag=_pct(lag_v[in_any]),
        bucket=config.bucket,
        interrupted=interrupted,
    )
