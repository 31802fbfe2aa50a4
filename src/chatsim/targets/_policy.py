"""``CallPolicy``: how the core treats calls to one target, with named, documented defaults.

Precedence is the caller's business (argument > environment > default, DESIGN.md §3.10); this
model only validates. The CLI maps its flags onto the field names one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatsim._exceptions import ConfigError

__all__ = [
    "DEFAULT_ADAPTIVE_DECREASE",
    "DEFAULT_ADAPTIVE_INCREASE",
    "DEFAULT_ADAPTIVE_QUIET_PERIOD",
    "DEFAULT_ATTEMPT_TIMEOUT",
    "DEFAULT_BACKOFF_INITIAL",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_BACKOFF_MULTIPLIER",
    "DEFAULT_BURST_SECONDS",
    "DEFAULT_EXPECTED_COMPLETION_TOKENS",
    "DEFAULT_JITTER",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_MAX_TOTAL_WAIT",
    "DEFAULT_MIN_CONCURRENCY",
    "DEFAULT_PRESSURE_SHARE",
    "DEFAULT_PRESSURE_WINDOW",
    "CallPolicy",
]

DEFAULT_MAX_ATTEMPTS: Final = 5
"""Attempts per call, the first included (openai-python makes 3; long runs want more)."""
DEFAULT_ATTEMPT_TIMEOUT: Final = 120.0
"""Seconds one attempt may take, streaming included: a long reply from a slow model fits."""
DEFAULT_MAX_TOTAL_WAIT: Final = 300.0
"""Seconds of retry waits per call, all waits together; a call never sleeps longer."""
DEFAULT_BACKOFF_INITIAL: Final = 1.0
"""Ceiling of the first backoff, in seconds."""
DEFAULT_BACKOFF_MAX: Final = 30.0
"""Cap on any one backoff, in seconds."""
DEFAULT_BACKOFF_MULTIPLIER: Final = 2.0
"""Growth of the backoff ceiling per retry."""
DEFAULT_JITTER: Final = 1.0
"""Fraction of each backoff drawn at random: 1.0 is "full jitter" (uniform in (0, ceiling])."""
DEFAULT_MAX_RETRY_AFTER: Final = 60.0
"""Cap on a server's ``Retry-After`` hint, in seconds."""
DEFAULT_MAX_CONCURRENCY: Final = 64
"""Calls in flight at once per target (the adaptive limit's ceiling)."""
DEFAULT_MIN_CONCURRENCY: Final = 1
"""The adaptive limit's floor."""
DEFAULT_BURST_SECONDS: Final = 5.0
"""A full rate bucket holds this many seconds of its rate: the largest burst after a lull."""
DEFAULT_EXPECTED_COMPLETION_TOKENS: Final = 512
"""Reply tokens assumed for the tokens-per-minute estimate when a request sets no max_tokens."""
DEFAULT_ADAPTIVE_DECREASE: Final = 0.5
"""Factor applied to the concurrency limit under rate-limit pressure (once per round)."""
DEFAULT_PRESSURE_WINDOW: Final = 64
"""Recent attempts (of the current round) the rate-limit pressure is judged on."""
DEFAULT_PRESSURE_SHARE: Final = 0.25
"""Share of ``DEFAULT_PRESSURE_WINDOW`` refused with 429 that means "over quota": 16 of 64.
Chosen with ``benchmarks/bench_429.py``: scattered 429s at 10 % reach 16 of 64 with odds
of about 1 in 2,000 per window, while an endpoint over its quota refuses most attempts."""
DEFAULT_ADAPTIVE_INCREASE: Final = 1
"""Slots added back after each quiet period."""
DEFAULT_ADAPTIVE_QUIET_PERIOD: Final = 10.0
"""Seconds without rate-limit pressure (and a full round of successes) before adding slots."""


class CallPolicy(BaseModel):
    """How the core treats calls to one target: retries, timeouts, rate limits, concurrency.

    Frozen; derive variants with ``policy.with_overrides({...})`` (or ``model_copy``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- retries and timeouts
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, ge=1)
    """Attempts per call, the first included; 1 disables retries."""
    attempt_timeout: float = Field(DEFAULT_ATTEMPT_TIMEOUT, gt=0)
    """Seconds one attempt may take, streaming included; then ``AttemptTimeoutError``."""
    max_total_wait: float = Field(DEFAULT_MAX_TOTAL_WAIT, ge=0)
    """Seconds of retry waits per call, all together; a wait that would exceed it is not taken."""
    backoff_initial: float = Field(DEFAULT_BACKOFF_INITIAL, ge=0)
    """Ceiling of the first backoff (seconds); doubles (``backoff_multiplier``) per retry."""
    backoff_max: float = Field(DEFAULT_BACKOFF_MAX, ge=0)
    """Cap on one backoff (seconds)."""
    backoff_multiplier: float = Field(DEFAULT_BACKOFF_MULTIPLIER, ge=1)
    """Growth of the backoff ceiling per retry."""
    jitter: float = Field(DEFAULT_JITTER, ge=0, le=1)
    """Random fraction of each backoff: 1 = full jitter, 0 = none."""
    max_retry_after: float = Field(DEFAULT_MAX_RETRY_AFTER, ge=0)
    """Cap on a server's ``Retry-After`` / ``retry-after-ms`` hint (seconds)."""

    # --- concurrency
    max_concurrency: int = Field(DEFAULT_MAX_CONCURRENCY, ge=1)
    """Calls in flight at once for this target; the adaptive limit never exceeds it."""
    min_concurrency: int = Field(DEFAULT_MIN_CONCURRENCY, ge=1)
    """The adaptive limit never falls below it."""
    adaptive: bool = True
    """Lower the concurrency limit under rate-limit pressure, raise it after quiet periods."""
    adaptive_decrease: float = Field(DEFAULT_ADAPTIVE_DECREASE, gt=0, lt=1)
    """Multiplicative decrease applied under rate-limit pressure, once per round."""
    adaptive_increase: int = Field(DEFAULT_ADAPTIVE_INCREASE, ge=1)
    """Additive increase after each quiet period."""
    adaptive_quiet_period: float = Field(DEFAULT_ADAPTIVE_QUIET_PERIOD, ge=0)
    """Seconds without rate-limit pressure (and ``limit`` successes) before an increase."""
    pressure_window: int = Field(DEFAULT_PRESSURE_WINDOW, ge=1)
    """Recent attempts of the current round that rate-limit pressure is judged on."""
    pressure_share: float = Field(DEFAULT_PRESSURE_SHARE, gt=0, le=1)
    """Share of ``pressure_window`` refused with 429 (at least one) that puts the target under
    pressure: only then does the limit fall and does a Retry-After pause every caller.
    ``pressure_window=1`` makes every 429 count (the old, twitchy behaviour)."""

    # --- rate limits
    requests_per_minute: float | None = Field(None, gt=0)
    """Token bucket on attempts sent (each retry counts); None for no limit."""
    tokens_per_minute: float | None = Field(None, gt=0)
    """Token bucket on estimated tokens (see ``estimate_tokens``); None for no limit."""
    burst_seconds: float = Field(DEFAULT_BURST_SECONDS, gt=0)
    """A full bucket holds this many seconds of its rate (the largest burst after a lull)."""
    expected_completion_tokens: int = Field(DEFAULT_EXPECTED_COMPLETION_TOKENS, ge=0)
    """Reply tokens assumed by the estimate when a request sets no ``max_tokens``."""
    use_rate_limit_headers: bool = True
    """Let the provider's remaining / reset headers (OpenAI's ``x-ratelimit-*``, Anthropic's
    ``anthropic-ratelimit-*``) drain the buckets."""
    pause_on_retry_after: bool = True
    """Under rate-limit pressure, a 429 with ``Retry-After`` pauses every new attempt to this
    target for that long (an isolated 429 delays only its own call's retry)."""

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        if self.min_concurrency > self.max_concurrency:
            raise ValueError(
                f"min_concurrency ({self.min_concurrency}) exceeds "
                f"max_concurrency ({self.max_concurrency})"
            )
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> CallPolicy:
        """A copy with ``overrides`` applied and validated; ``ConfigError`` names bad fields."""
        unknown = sorted(set(overrides) - set(type(self).model_fields))
        if unknown:
            valid = ", ".join(sorted(type(self).model_fields))
            raise ConfigError(f"unknown call policy field(s) {unknown}; valid fields: {valid}")
        try:
            return type(self).model_validate({**self.model_dump(), **overrides})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid call policy: {problems}") from None
