"""How the simulated user fared: prompts shortened to fit its context, empty turns resampled."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from chatsim.protocol import Role
from chatsim.recording._records import EpisodeRecord

__all__ = ["SimulatorSummary", "simulator_summary"]


class SimulatorSummary(BaseModel):
    """Simulator-side counts over all of a model's episodes."""

    model_config = ConfigDict(frozen=True)

    user_turns: int
    """User turns generated (the final answer included)."""
    context_trimmed_turns: int
    """Turns whose prompt was shortened to fit the simulator's context window."""
    context_trimmed_episodes: int
    """Episodes with at least one such turn."""
    empty_turns_resampled: int
    """Empty user turns that were sampled again (``extra["empty_user_turns"]``)."""


def simulator_summary(episodes: Sequence[EpisodeRecord]) -> SimulatorSummary:
    users = [[t for t in ep.turns if t.role is Role.USER] for ep in episodes]
    trimmed = [sum(t.context_trimmed for t in turns) for turns in users]
    return SimulatorSummary(
        user_turns=sum(len(turns) for turns in users),
        context_trimmed_turns=sum(trimmed),
        context_trimmed_episodes=sum(n > 0 for n in trimmed),
        empty_turns_resampled=sum(int(ep.extra.get("empty_user_turns", 0)) for ep in episodes),
    )
