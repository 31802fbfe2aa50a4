"""Run directories: the one owner of their layout, records, reading and repair.

A header, one JSON line per finished episode, a summary, and what other features keep beside
them (the AI-alone baseline, judge scores, a load test's summary). The file names are in
``_layout.py`` (its docstring draws the directory), every record schema is here, and every
record file is read by one tolerant reader (``read_jsonl``) and repaired by one function
(``repair_run``).
"""

from chatsim.recording._files import (
    BASELINE_RECORDS,
    EPISODE_RECORDS,
    JUDGE_RECORDS,
    RECORD_FILES,
    RecordFile,
)
from chatsim.recording._jsonl import (
    JsonlRecords,
    JsonlWriter,
    TornTail,
    cut_torn_tail,
    read_jsonl,
)
from chatsim.recording._layout import (
    BASELINE_FILE,
    BASELINE_QUARANTINE_FILE,
    EPISODES_FILE,
    EPISODES_QUARANTINE_FILE,
    HEADER_FILE,
    JUDGE_FILE,
    JUDGE_QUARANTINE_FILE,
    LOAD_SUMMARY_FILE,
    LOCK_FILE,
    LOG_FILE,
    SIDECARS_DIR,
    SUMMARY_FILE,
)
from chatsim.recording._records import (
    SCHEMA_VERSION,
    AttemptRecord,
    EpisodeRecord,
    ReplyTiming,
    RunHeader,
    SimulatorChoice,
    TurnRecord,
    Usage,
)
from chatsim.recording._records_baseline import BaselineMode, BaselineRecord
from chatsim.recording._records_judge import JudgeRecord
from chatsim.recording._repair import FileRepair, QuarantinedLine, RepairResult, repair_run
from chatsim.recording._run_dir import (
    EpisodeWriter,
    RunData,
    create_run_dir,
    open_for_resume,
    open_recorded_for_resume,
    read_header,
    read_run,
    run_dir_lock,
    write_json_atomic,
)
from chatsim.recording._scan import RecordedEpisodes, scan_recorded
from chatsim.recording._sidecar import (
    SidecarSpec,
    load_sidecar,
    read_sidecar,
    remove_sidecars,
    sidecar_dir,
)
from chatsim.recording._sidecar_writer import SidecarWriter

__all__ = [
    "BASELINE_FILE",
    "BASELINE_QUARANTINE_FILE",
    "BASELINE_RECORDS",
    "EPISODES_FILE",
    "EPISODES_QUARANTINE_FILE",
    "EPISODE_RECORDS",
    "HEADER_FILE",
    "JUDGE_FILE",
    "JUDGE_QUARANTINE_FILE",
    "JUDGE_RECORDS",
    "LOAD_SUMMARY_FILE",
    "LOCK_FILE",
    "LOG_FILE",
    "RECORD_FILES",
    "SCHEMA_VERSION",
    "SIDECARS_DIR",
    "SUMMARY_FILE",
    "AttemptRecord",
    "BaselineMode",
    "BaselineRecord",
    "EpisodeRecord",
    "EpisodeWriter",
    "FileRepair",
    "JsonlRecords",
    "JsonlWriter",
    "JudgeRecord",
    "QuarantinedLine",
    "RecordFile",
    "RecordedEpisodes",
    "RepairResult",
    "ReplyTiming",
    "RunData",
    "RunHeader",
    "SidecarSpec",
    "SidecarWriter",
    "SimulatorChoice",
    "TornTail",
    "TurnRecord",
    "Usage",
    "create_run_dir",
    "cut_torn_tail",
    "load_sidecar",
    "open_for_resume",
    "open_recorded_for_resume",
    "read_header",
    "read_jsonl",
    "read_run",
    "read_sidecar",
    "remove_sidecars",
    "repair_run",
    "run_dir_lock",
    "scan_recorded",
    "sidecar_dir",
    "write_json_atomic",
]
