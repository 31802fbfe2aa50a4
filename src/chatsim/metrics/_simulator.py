"""How the simulated user fared: prompts shortened to fit its context, empty turns resampled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from chatsim.recording._records import EpisodeRecord

if TYPE_CHECKING:
    from chatsim.metrics._frame import Frame

__all__ = ["SimulatorSummary", "simulator_facts", "simulator_summary"]


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


def simulator_facts(frame: Frame) -> SimulatorSummary:
    """Simulator-side counts over a group of episodes, from their facts."""
    trimmed = frame.values("context_trimmed_turns")
    return SimulatorSummary(
        user_turns=int(frame.values("user_turns").sum()),
        context_trimmed_turns=int(trimmed.sum()),
        context_trimmed_episodes=int((trimmed > 0).sum()),
        empty_turns_resampled=int(frame.values("empty_turns_resampled").sum()),
    )


def simulator_summary(episodes: Sequence[EpisodeRecord]) -> SimulatorSummary:
    """Simulator-side counts over episodes (``simulator_facts`` of their facts)."""
    from chatsim.metrics._frame import frame_of  # lazy: pyarrow, and _facts imports us

    return simulator_facts(frame_of(episodes))
