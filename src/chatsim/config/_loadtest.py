"""The load test's configuration: frozen, JSON-serialisable, secret-free (it goes in the header).

A load test is one or more *stages*. Each stage offers one load: an arrival rate of new
conversations per second (open loop) or a number of concurrent users (closed loop). Without
``sweep`` there is one stage at ``rate`` / ``users``; with ``sweep`` there is one stage per
value, run one after another in increasing order, each bounded by ``duration`` and/or
``conversations``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self

from pydantic import Field, ValidationError, model_validator

from chatsim._exceptions import ConfigError
from chatsim.config._conversation import ConversationConfig

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_EPISODE_TIMEOUT",
    "DEFAULT_LOADTEST_POLICY",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_SLO_ERROR_RATE",
    "DEFAULT_WINDOW",
    "LoadTestConfig",
    "Mode",
]

Mode = Literal["open", "closed"]

DEFAULT_MAX_IN_FLIGHT: Final = 10_000
"""Conversations in flight at once (open loop); arrivals beyond it wait and are recorded late."""
DEFAULT_DRAIN_TIMEOUT: Final = 60.0
"""Seconds a stage waits, after its arrivals end, for conversations still running."""
DEFAULT_EPISODE_TIMEOUT: Final = 600.0
"""Seconds one conversation may take."""
DEFAULT_SLO_ERROR_RATE: Final = 0.01
"""Share of conversations that may fail (or be abandoned) before a stage breaks its objectives."""
DEFAULT_WINDOW: Final = 10.0
"""Seconds of the live view's sliding latency window."""
DEFAULT_BUCKET: Final = 1.0
"""Seconds per point of the summary's time series."""
DEFAULT_LOADTEST_POLICY: Final[dict[str, Any]] = {"max_attempts": 1, "adaptive": False}
"""A load test measures the target, so by default the client neither retries nor backs off;
``policy`` overrides it (for example ``{"max_attempts": 3}`` to load-test with retries)."""


class LoadTestConfig(ConversationConfig):
    """Everything that determines what a load test offers and how it is judged: the shared
    ``ConversationConfig`` (validated as for ``chatsim run``) plus the load and its objectives."""

    model: str
    """The target model spec, e.g. ``vllm:llama`` or ``gpt-4o``."""
    mode: Mode = "open"
    """``open``: new conversations arrive at ``rate`` per second whatever the target does;
    ``closed``: ``users`` users each start a new conversation when their last one ends."""
    arrival: Literal["poisson", "constant"] = "poisson"
    """Open loop: exponential gaps between arrivals (seeded) or equal gaps."""
    rate: Annotated[float, Field(gt=0)] | None = None
    """Open loop: new conversations per second (without ``sweep``)."""
    users: Annotated[int, Field(ge=1)] | None = None
    """Closed loop: concurrent users (without ``sweep``)."""
    sweep: tuple[Annotated[float, Field(gt=0)], ...] = ()
    """Loads (rates or user counts) to run one stage each, in increasing order (a repeated
    load runs twice: the first run can serve as a warm-up)."""
    duration: Annotated[float, Field(gt=0)] | None = None
    """Seconds of arrivals per stage."""
    conversations: Annotated[int, Field(ge=1)] | None = None
    """Conversations started per stage (with ``duration``: whichever comes first)."""
    ramp_up: Annotated[float, Field(ge=0)] = 0.0
    """Seconds over which each stage ramps from no load to its full load (rate grows linearly;
    users start evenly spread)."""
    think_time: Annotated[float, Field(ge=0)] = 0.0
    """Seconds a user waits after a reply before its next turn (mean, if exponential)."""
    think_distribution: Literal["fixed", "exponential"] = "fixed"
    """Think time constant, or drawn (seeded) from an exponential with mean ``think_time``."""
    slo_ttft_p95: Annotated[float, Field(gt=0)] | None = None
    """Objective on time to first token (seconds): the stage's p95 must not exceed it, and a
    conversation counts towards goodput only when each of its turns stayed within it."""
    slo_e2e_p95: Annotated[float, Field(gt=0)] | None = None
    """Objective on end-to-end latency per turn (seconds), like ``slo_ttft_p95``."""
    slo_error_rate: Annotated[float, Field(ge=0, le=1)] | None = DEFAULT_SLO_ERROR_RATE
    """Largest share of failed or abandoned conversations a stage may have; None: no limit."""
    slo_basis: Literal["scheduled", "sent"] = "scheduled"
    """Latency the objectives judge: from the scheduled time (what users felt, client queueing
    included: no coordinated omission) or from the request's send time."""
    max_in_flight: Annotated[int, Field(ge=1)] = DEFAULT_MAX_IN_FLIGHT
    """Open loop: most conversations in flight at once; later arrivals wait (recorded late)."""
    drain_timeout: Annotated[float, Field(ge=0)] | None = DEFAULT_DRAIN_TIMEOUT
    """Seconds a stage waits for running conversations after its arrivals end; the rest are
    cancelled and counted as abandoned. None waits for all (up to ``episode_timeout``)."""
    episode_timeout: Annotated[float, Field(gt=0)] | None = DEFAULT_EPISODE_TIMEOUT
    """Seconds one conversation may take."""
    gc_freeze: bool = True
    """Keep Python's cyclic garbage collector from pausing the run (``chatsim._util._gc``):
    freeze the heap every sample tick, collect fully between stages. False leaves it alone."""
    window: Annotated[float, Field(gt=0)] = DEFAULT_WINDOW
    """Seconds of the live view's sliding latency window."""
    bucket: Annotated[float, Field(gt=0)] = DEFAULT_BUCKET
    """Seconds per point of the summary's time series."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.duration is None and self.conversations is None:
            raise ValueError("give a duration or a number of conversations per stage")
        if not self.sweep:
            if self.mode == "open" and self.rate is None:
                raise ValueError("open loop needs a rate (conversations per second) or a sweep")
            if self.mode == "closed" and self.users is None:
                raise ValueError("closed loop needs a number of users or a sweep")
        if self.mode == "closed" and any(v != int(v) for v in self.sweep):
            raise ValueError("a closed-loop sweep lists whole numbers of users")
        if self.slo_ttft_p95 is not None and not self.stream:
            raise ValueError("a time-to-first-token objective needs streamed replies")
        return self

    @classmethod
    def build(cls, **values: Any) -> LoadTestConfig:
        """Validate, turning validation errors into one ``ConfigError`` naming each field."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + e["msg"]
                for e in exc.errors()
            )
            raise ConfigError(f"invalid load test: {problems}") from None

    def loads(self) -> list[float]:
        """The load of each stage, in the order they run."""
        if self.sweep:
            return sorted(self.sweep)
        value = self.rate if self.mode == "open" else self.users
        assert value is not None  # checked by the validator
        return [float(value)]

    def call_policy(self) -> dict[str, Any]:
        """The target call policy's fields: no client-side limit below the offered load."""
        slots = self.max_in_flight
        if self.mode == "closed":
            slots = max(slots, int(max(self.loads())))
        return {"max_concurrency": slots, **DEFAULT_LOADTEST_POLICY, **self.policy}
