"""``load_summary.json``: what a load test found, per stage, with time series. Versioned.

Definitions (every figure is recomputed from the records plus the engine's samples):

- *sent* latency runs from when the successful attempt was sent; *scheduled* latency runs
  from when the user meant to send: for a conversation's first call, from its scheduled start
  plus the simulator's time for the first message; for later calls, from when the episode
  asked for the reply (client queueing included). scheduled >= sent, always; the gap is the
  client's own queueing, which an overloaded target must not be able to hide.
- throughput = recorded conversations / elapsed; goodput = good conversations / elapsed,
  where *elapsed* runs from the stage's start to its last conversation's end (as vLLM's
  ``benchmark_serving`` does), and a conversation is *good* when it ended without error and
  every turn met each objective (TTFT, end-to-end) on the objectives' basis.
- error rate = (conversations ended by an error + conversations abandoned) / arrivals.
- a stage *meets* its objectives when its p95 TTFT and p95 end-to-end latency (on the
  objectives' basis) and its error rate are within them; the *saturation point* lies between
  the last stage that met them and the first that did not.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chatsim.metrics import Percentiles

__all__ = [
    "LOAD_SUMMARY_VERSION",
    "LoadSummary",
    "Objectives",
    "Saturation",
    "SeriesPoint",
    "StageSummary",
]

LOAD_SUMMARY_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Objectives(_Model):
    """The service-level objectives the stages were judged against."""

    ttft_p95: float | None = None
    """Seconds; None: not judged."""
    e2e_p95: float | None = None
    """Seconds per turn; None: not judged."""
    error_rate: float | None = None
    """Largest share of failed or abandoned conversations; None: not judged."""
    basis: Literal["scheduled", "sent"] = "scheduled"
    """Which latency the objectives judge."""


class SeriesPoint(_Model):
    """One bucket of a stage's time series (latencies in seconds, over calls ending in it)."""

    t: float
    """Start of the bucket, seconds since the stage's start."""
    arrivals: int
    completed: int
    """Conversations recorded, by end time."""
    errors: int
    """Conversations that ended in an error, by end time."""
    calls: int
    """Target calls that ended (succeeded or failed)."""
    call_errors: int
    in_flight: float | None = None
    """Mean conversations in flight over the bucket's samples."""
    calls_in_flight: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    e2e_p50: float | None = None
    e2e_p95: float | None = None
    ttft_p95_scheduled: float | None = None
    e2e_p95_scheduled: float | None = None
    lag_p99: float | None = None
    """Event-loop lag p99 over the bucket (seconds)."""


class StageSummary(_Model):
    """One stage: one offered load."""

    index: int
    load: float
    """Arrival rate (open loop, conversations/s) or users (closed loop)."""
    started_at: float
    """Epoch seconds."""
    window: float
    """Seconds during which conversations arrived."""
    elapsed: float
    """Seconds from the stage's start to its last conversation's end."""
    arrivals: int
    completed: int
    """Conversations recorded (answered, or ended by an error)."""
    errors: int
    """Recorded conversations that ended in an error (target, simulator, timeout)."""
    abandoned: int
    """Conversations cancelled at the drain deadline (or a stop); they have no record."""
    good: int
    """Conversations that met every objective."""
    offered_rate: float
    """Arrivals per second of the window."""
    throughput: float
    """Recorded conversations per second of ``elapsed``."""
    goodput: float
    """Good conversations per second of ``elapsed``."""
    call_rate: float
    """Target calls per second of ``elapsed``."""
    error_rate: float
    accuracy: float | None = None
    """Correct answers among conversations that ended without error."""
    calls: int
    call_errors: int
    """Calls that failed for good (after the policy's retries)."""
    ttft_sent: Percentiles
    ttft_scheduled: Percentiles
    e2e_sent: Percentiles
    e2e_scheduled: Percentiles
    max_token_gap: Percentiles = Percentiles(n=0)
    """Per streamed reply, its longest pause between arrivals of content (its worst stall)."""
    connect: Percentiles = Percentiles(n=0)
    """Opening a new connection (DNS, TCP, TLS), for the calls that opened one."""
    start_lag: Percentiles
    """How late conversations started (client-side): the open loop's queue, the loop's lag."""
    conversation: Percentiles
    """Conversation duration."""
    in_flight_mean: float | None = None
    in_flight_max: int | None = None
    calls_in_flight_max: int | None = None
    event_loop_lag: Percentiles
    client_cpu: float = 0.0
    """CPU the load-testing process used, as a share of one core over ``elapsed`` (on Ray:
    all workers together, so it can exceed 1)."""
    client_cpu_per_call_ms: float | None = None
    """That CPU per target call, in milliseconds (scripted simulator: the client's own cost)."""
    client_busy: bool = False
    """The client (on Ray: its busiest worker) used over 80% of a core or its event loop
    lagged over 50 ms (p99): its figures may measure the client rather than the target."""
    rss_max: int | None = None
    """Largest resident memory of the process (on Ray: the workers' sum) during the stage,
    bytes (Linux)."""
    memory_per_in_flight: float | None = None
    """Memory growth from the stage's start to its peak over the peak number of conversations
    in flight, bytes (Linux)."""
    met_objectives: bool
    breaches: list[str] = Field(default_factory=list)
    """Which objectives the stage broke, in words."""
    series: list[SeriesPoint] = Field(default_factory=list)


class Saturation(_Model):
    """Where the load broke the objectives."""

    found: bool
    """Some stage broke an objective."""
    last_ok_stage: int | None = None
    last_ok_load: float | None = None
    first_broken_stage: int | None = None
    first_broken_load: float | None = None
    breaches: list[str] = Field(default_factory=list)
    """What the first broken stage broke."""
    note: str = ""
    """One sentence for people."""


class LoadSummary(_Model):
    """The whole load test."""

    version: int = LOAD_SUMMARY_VERSION
    run_id: str
    model: str
    mode: Literal["open", "closed"]
    arrival: Literal["poisson", "constant"]
    load_unit: str
    """``conversations/s`` (open loop) or ``users`` (closed loop)."""
    objectives: Objectives
    stages: list[StageSummary]
    saturation: Saturation
    event_loop_lag: Percentiles
    """Over every stage (seconds; the pauses between stages left out)."""
    bucket: float
    """Seconds per time-series point."""
    interrupted: bool = False
    """The run was stopped early (Ctrl-C, a refused key)."""
