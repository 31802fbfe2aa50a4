"""Run directories: header, one JSON line per finished episode, summary."""

from chatsim.recording._records import (
    SCHEMA_VERSION,
    AttemptRecord,
    EpisodeRecord,
    RunHeader,
    TurnRecord,
    Usage,
)

__all__ = ["SCHEMA_VERSION", "AttemptRecord", "EpisodeRecord", "RunHeader", "TurnRecord", "Usage"]
