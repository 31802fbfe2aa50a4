"""Configuration models: frozen, validated, JSON-serialisable and secret-free.

A bottom package (it imports nothing of chatsim but the exception tree), so that the run
directory's header (``chatsim.recording``) stores the configuration typed, and ``run`` and
``loadtest`` share one validated ``ConversationConfig``:

- ``ConversationConfig``: what every conversation needs (questions, simulator, endpoints,
  assistant prompt and sampling, call policy, limits);
- ``RunConfig``: ``chatsim run`` (models, repeats, concurrency, baseline, ...);
- ``LoadTestConfig``: ``chatsim loadtest`` (the offered load, stages and objectives).
"""

from chatsim.config._conversation import (
    CONDITIONS,
    DEFAULT_MAX_ERROR_SHARE,
    DEFAULT_SYSTEM_PROMPT,
    DEFAULT_TARGET_TEMPERATURE,
    Condition,
    ConversationConfig,
    RunConfig,
)
from chatsim.config._loadtest import (
    DEFAULT_BUCKET,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_EPISODE_TIMEOUT,
    DEFAULT_LOADTEST_POLICY,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_SLO_ERROR_RATE,
    DEFAULT_WINDOW,
    LoadTestConfig,
    Mode,
)

__all__ = [
    "CONDITIONS",
    "DEFAULT_BUCKET",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_EPISODE_TIMEOUT",
    "DEFAULT_LOADTEST_POLICY",
    "DEFAULT_MAX_ERROR_SHARE",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_SLO_ERROR_RATE",
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_TARGET_TEMPERATURE",
    "DEFAULT_WINDOW",
    "Condition",
    "ConversationConfig",
    "LoadTestConfig",
    "Mode",
    "RunConfig",
]
