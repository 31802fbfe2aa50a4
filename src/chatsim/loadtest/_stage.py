"""What one stage of a load test did, beyond its records (one process's, or merged over Ray
workers by ``merge_stage_runs``)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

__all__ = ["StageRun"]


@dataclass(slots=True)
class StageRun:
    """What happened in one stage, beyond its records."""

    index: int
    load: float
    """Arrival rate (open) or users (closed)."""
    started_at: float
    window_end: float | None = None
    """When arrivals stopped (duration reached, or the last conversation started)."""
    ended_at: float | None = None
    """When its last conversation ended or was abandoned."""
    arrivals: int = 0
    """Conversations started."""
    abandoned: int = 0
    """Conversations cancelled unrecorded (drain timeout, Ctrl-C, a refused key)."""
    scheduled: array[float] = field(default_factory=lambda: array("d"))
    """Scheduled start of every conversation, recorded or not (clock time)."""
    cpu_seconds: float = 0.0
    """CPU time this process used during the stage (all of it: the client's own cost); merged
    over Ray workers, their sum."""
    numbers: int = 0
    """Conversation numbers the stage used up: the next stage's numbers start this much higher."""
    workers: int = 1
    """Processes that generated the stage's load (Ray workers; 1: this process alone)."""
    busiest_cpu_seconds: float | None = None
    """Merged over Ray workers: the CPU time of the busiest one (None: one process)."""
