"""Every file name of a run directory, in one place.

::

    RUN_DIR/
    ├── header.json                 RunHeader: written once, atomically (temp file + rename)
    ├── episodes.jsonl              one EpisodeRecord per line, appended and flushed per episode
    ├── summary.json                the summary, rewritten atomically at the end (derived data)
    ├── log.jsonl                   the structured log (structlog JSON lines)
    ├── baseline.jsonl              runs with --baseline: one BaselineRecord per AI-alone answer
    ├── judge.jsonl                 after `chatsim report --judge`: one JudgeRecord per judgement
    ├── load_summary.json           load tests only: throughput, latency over time, goodput
    ├── episodes.quarantine.jsonl   `chatsim repair`: damaged lines of episodes.jsonl, verbatim
    ├── baseline.quarantine.jsonl   ... of baseline.jsonl
    ├── judge.quarantine.jsonl      ... of judge.jsonl
    ├── sidecars/<name>/part-*.arrow  derived columnar caches of episodes.jsonl (_sidecar.py)
    └── .lock                       flock'ed by the one process writing the directory

Transient names: ``.<name>.tmp`` (an atomic JSON write in progress) and ``.<name>.repair`` (a
repair's copy of the valid lines, renamed over ``<name>``). The ``*.jsonl`` record files are
read by one tolerant reader (``_jsonl.py``) and repaired by one function (``_repair.py``); which
record type each holds is the table in ``_files.py``.

This module imports nothing: every other module (and feature: the baseline, the judge, the
load test) takes its names from here, so a name is spelled once.
"""

from __future__ import annotations

__all__ = [
    "BASELINE_FILE",
    "BASELINE_QUARANTINE_FILE",
    "EPISODES_FILE",
    "EPISODES_QUARANTINE_FILE",
    "HEADER_FILE",
    "JUDGE_FILE",
    "JUDGE_QUARANTINE_FILE",
    "LOAD_SUMMARY_FILE",
    "LOCK_FILE",
    "LOG_FILE",
    "SIDECARS_DIR",
    "SUMMARY_FILE",
]

HEADER_FILE = "header.json"
EPISODES_FILE = "episodes.jsonl"
SUMMARY_FILE = "summary.json"
LOG_FILE = "log.jsonl"
BASELINE_FILE = "baseline.jsonl"
JUDGE_FILE = "judge.jsonl"
LOAD_SUMMARY_FILE = "load_summary.json"
EPISODES_QUARANTINE_FILE = "episodes.quarantine.jsonl"
BASELINE_QUARANTINE_FILE = "baseline.quarantine.jsonl"
JUDGE_QUARANTINE_FILE = "judge.quarantine.jsonl"
LOCK_FILE = ".lock"
SIDECARS_DIR = "sidecars"
