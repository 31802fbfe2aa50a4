"""Run directories: header, one JSON line per finished episode, summary."""

from chatsim.recording._records import (
    SCHEMA_VERSION,
    AttemptRecord,
    EpisodeRecord,
    RunHeader,
    TurnRecord,
    Usage,
)
from chatsim.recording._run_dir import (
    EPISODES_FILE,
    HEADER_FILE,
    LOAD_SUMMARY_FILE,
    LOG_FILE,
    SUMMARY_FILE,
    EpisodeWriter,
    JsonlWriter,
    RunData,
    create_run_dir,
    cut_torn_tail,
    open_for_resume,
    read_header,
    read_run,
    write_json_atomic,
)

__all__ = [
    "EPISODES_FILE",
    "HEADER_FILE",
    "LOAD_SUMMARY_FILE",
    "LOG_FILE",
    "SCHEMA_VERSION",
    "SUMMARY_FILE",
    "AttemptRecord",
    "EpisodeRecord",
    "EpisodeWriter",
    "JsonlWriter",
    "RunData",
    "RunHeader",
    "TurnRecord",
    "Usage",
    "create_run_dir",
    "cut_torn_tail",
    "open_for_resume",
    "read_header",
    "read_run",
    "write_json_atomic",
]
