"""Running episodes: configuration, seeds, the episode loop, preparing a run and executing it."""

from chatsim.config import (
    DEFAULT_SYSTEM_PROMPT,
    DEFAULT_TARGET_TEMPERATURE,
    ConversationConfig,
    RunConfig,
)
from chatsim.runner._episode import EpisodePlan, EpisodeSettings, run_episode
from chatsim.runner._prepare import (
    RunSetup,
    package_versions,
    plan_episodes,
    prepare_run,
    simulator_settings,
)
from chatsim.runner._run import (
    Progress,
    RunCrashed,
    RunInterrupted,
    RunOutcome,
    episodes_in_flight,
    execute_run,
)
from chatsim.runner._seeds import derive_seed, episode_id

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_TARGET_TEMPERATURE",
    "ConversationConfig",
    "EpisodePlan",
    "EpisodeSettings",
    "Progress",
    "RunConfig",
    "RunCrashed",
    "RunInterrupted",
    "RunOutcome",
    "RunSetup",
    "derive_seed",
    "episode_id",
    "episodes_in_flight",
    "execute_run",
    "package_versions",
    "plan_episodes",
    "prepare_run",
    "run_episode",
    "simulator_settings",
]
